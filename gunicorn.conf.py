# gunicorn reads this file when started from the project root (`gunicorn config.wsgi:application`).
# Its access log is off unless asked for (`--access-logfile -`); when on, its lines, like the
# error log's, have client secrets and keys masked (config/gunicorn_logging.py).
logger_class = "config.gunicorn_logging.MaskingLogger"
