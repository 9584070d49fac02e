"""The import rules of the layout (README, "Layout"), read from the source: orders does not
import payments; services do not import the tasks or views that call them, and no import hides
inside a function; no test module imports another."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("core", "orders", "payments", "reconciliation", "disputes", "billing", "config")
# orders/admin.py's re-sync action still calls the payments service directly (the admin is
# being reworked separately); every other module in orders is held to the rule.
ORDERS_MAY_IMPORT_PAYMENTS = {"orders/admin.py"}


def imported_modules(path: Path, root: Path = ROOT) -> Iterator[tuple[ast.AST, str]]:
    """Every module an `import` or `from … import` names, with the statement; relative imports
    resolved against the file's package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(root).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield node, base
            for alias in node.names:  # `from payments import tasks` imports payments.tasks
                yield node, f"{base}.{alias.name}"


def sources(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_helper_finds_imports_of_every_form(tmp_path: Path) -> None:
    # given a module that imports payments in each way Python allows
    (tmp_path / "orders").mkdir()
    path = tmp_path / "orders" / "probe.py"
    path.write_text(
        "import payments.models\nfrom payments import tasks\nfrom .models import Order\n"
        "def f():\n    from payments.services.events import drain\n"
    )
    found = [module for _, module in imported_modules(path, root=tmp_path)]
    # then each is seen, relative ones resolved
    assert "payments.models" in found and "payments.tasks" in found
    assert "orders.models" in found and "payments.services.events.drain" in found


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def test_orders_does_not_import_payments() -> None:
    crossings = [
        f"{where(path, node)} {module}"
        for path in sources("orders")
        if str(path.relative_to(ROOT)) not in ORDERS_MAY_IMPORT_PAYMENTS
        for node, module in imported_modules(path)
        if is_within(module, "payments")
    ]
    assert crossings == []


ENTRY_POINTS = ("tasks.py", "views.py", "urls.py", "admin.py", "apis.py")


def test_services_do_not_import_the_tasks_or_views_that_call_them() -> None:
    services = [
        path
        for path in sources("payments/services", "orders", "core")
        if path.name not in ENTRY_POINTS and not {"management", "migrations"} & set(path.parts)
    ]
    upward = [
        f"{where(path, node)} {module}"
        for path in services
        for node, module in imported_modules(path)
        if any(is_within(module, f"{app}.{entry}") for app in APPS for entry in ("tasks", "views", "admin"))
    ]
    assert upward == []


def test_no_import_hides_inside_a_function() -> None:
    """An import inside a function hides a cycle between modules; the one allowed place is an
    AppConfig's ready(), which runs once the app registry is built."""
    hidden = []
    for path in sources(*APPS):
        if "migrations" in path.parts:
            continue
        for function in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and function.name != "ready":
                hidden += [
                    f"{where(path, node)} in {function.name}()"
                    for node in ast.walk(function)
                    if isinstance(node, ast.Import | ast.ImportFrom)
                ]
    assert hidden == []


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in conftest.py, tests/factories.py or a support module, so that a
    test module can be moved, renamed or run alone."""
    imports = [
        f"{where(path, node)} {module}"
        for path in sources("tests")
        for node, module in imported_modules(path)
        if is_within(module, "tests") and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert imports == []


def test_core_imports_none_of_the_apps() -> None:
    """core is what the apps share: it sits under them, so it imports none of them."""
    wrong = [
        f"{where(path, node)} imports {module}"
        for path in sources("core")
        for node, module in imported_modules(path)
        if any(is_within(module, app) for app in ("orders", "payments", "reconciliation", "disputes"))
    ]
    assert wrong == []
