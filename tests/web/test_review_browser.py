"""goex-review in a real headless Chromium (Debian's, driven by Playwright): a person signs in,
watches the queue fill by itself, reads an action's page and decides — and the decision is found
carried out on the real directory and the real table. Screenshots of the queue and of an action
are written to ``test-artifacts/review/`` (or ``$GOEX_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.actions import hold_fs, keep_fs, project, table
from tests.web.conftest import Review

pytestmark = pytest.mark.needs("chromium")
playwright = pytest.importorskip("playwright.sync_api")
ARTIFACTS = Path(os.environ.get("GOEX_TEST_ARTIFACTS", "test-artifacts")) / "review"
WAIT_MS = 15_000  # the queue refreshes every 2 s


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, review: Review) -> Iterator[object]:
    """A signed-in page (the one-time token link, then the Sign in button); any dialog a
    script opens fails the test."""
    context = browser.new_context()  # type: ignore[attr-defined]
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.goto(f"{review.base}/login?token={review.token}")
    opened.click("#sign-in")
    opened.wait_for_url(f"{review.base}/")
    yield opened
    context.close()
    assert dialogs == [], f"a script ran on the page: {dialogs}"


def shoot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def open_action(page: object, review: Review, action_id: str) -> None:
    """From the queue, where it appears by itself, to the action's own page."""
    page.goto(f"{review.base}/")  # type: ignore[attr-defined]
    page.locator(f'a[href="/actions/{action_id}"]').click(timeout=WAIT_MS)  # type: ignore[attr-defined]
    page.wait_for_url(f"{review.base}/actions/{action_id}")  # type: ignore[attr-defined]


def test_a_file_action_and_a_database_action_approved_in_the_browser(
    page: object, review: Review, tmp_path: Path, pg_dsn: str
) -> None:
    root = project(tmp_path / "p")
    rows = table(pg_dsn)
    # The queue is open before anything waits: both actions appear without a reload.
    page.goto(f"{review.base}/")  # type: ignore[attr-defined]
    kept = keep_fs(root, "printf 'first\\nsecond, edited\\n' > notes.txt; echo new > added.txt")
    held = rows.hold(f"UPDATE {rows.name} SET v = 'approved' WHERE id <= 2")
    queue = page.locator("#queue-rows")  # type: ignore[attr-defined]
    queue.locator(f'tr[data-id="{held.action_id}"]').wait_for(timeout=WAIT_MS)
    queue.locator(f'tr[data-id="{kept.action_id}"]').wait_for(timeout=WAIT_MS)
    shoot(page, "queue")

    open_action(page, review, kept.action_id)
    assert "second, edited" in page.inner_text("section.files")  # type: ignore[attr-defined]
    shoot(page, "file-action")
    page.click("#approve")  # type: ignore[attr-defined]
    assert "committed" in page.inner_text("#outcomes")  # type: ignore[attr-defined]
    assert (root / "notes.txt").read_text() == "first\nsecond, edited\n"
    assert (root / "added.txt").read_text() == "new\n"

    open_action(page, review, held.action_id)
    images = page.inner_text("section.grid:has-text('row images')")  # type: ignore[attr-defined]
    assert "value 1" in images and "approved" in images
    assert page.locator("td.changed").count() == 2  # type: ignore[attr-defined]
    shoot(page, "database-action")
    page.click("#approve")  # type: ignore[attr-defined]
    assert "approved" in page.inner_text("#outcomes")  # type: ignore[attr-defined]
    code, _, err = held.running.finish(timeout=60)
    assert code == 0, err
    assert rows.rows()[:3] == [(1, "approved"), (2, "approved"), (3, "value 3")]


def test_a_rejected_action_is_rolled_back(page: object, review: Review, pg_dsn: str) -> None:
    rows = table(pg_dsn)
    before = rows.rows()
    held = rows.hold(f"DELETE FROM {rows.name} WHERE id > 1")
    open_action(page, review, held.action_id)
    page.fill("input[name=reason]", "deletes too much")  # type: ignore[attr-defined]
    page.click("#reject")  # type: ignore[attr-defined]
    assert "rejected" in page.inner_text("#outcomes")  # type: ignore[attr-defined]
    code, _, _ = held.running.finish(timeout=60)
    assert code == 4
    assert rows.rows() == before
    page.goto(f"{review.base}/actions/{held.action_id}")  # type: ignore[attr-defined]
    assert "deletes too much" in page.inner_text("#decision")  # type: ignore[attr-defined]


def test_a_stale_digest_is_refused(page: object, review: Review, tmp_path: Path) -> None:
    """A page that shows an older version of the action (here: its digest made stale)."""
    root = project(tmp_path / "p")
    kept = keep_fs(root, "echo gone > notes.txt")
    open_action(page, review, kept.action_id)
    page.eval_on_selector(  # type: ignore[attr-defined]
        "input[name=digest]", "input => input.value = '0'.repeat(64)"
    )
    page.click("#approve")  # type: ignore[attr-defined]
    assert "changed since the page was shown" in page.inner_text("#outcomes")  # type: ignore[attr-defined]
    assert (root / "notes.txt").read_text() == "first\nsecond\n"
    page.goto(f"{review.base}/actions/{kept.action_id}")  # type: ignore[attr-defined]
    assert page.inner_text("#state") == "pending"  # type: ignore[attr-defined]


def test_a_batch_approval_lists_every_item_first(
    page: object, review: Review, tmp_path: Path
) -> None:
    roots = [project(tmp_path / f"p{i}") for i in range(3)]
    kept = [keep_fs(r, f"echo batch {i} > notes.txt") for i, r in enumerate(roots)]
    page.goto(f"{review.base}/")  # type: ignore[attr-defined]
    for chosen in kept[:2]:
        page.check(f'input[name=id][value="{chosen.action_id}"]')  # type: ignore[attr-defined]
    page.click("#batch-approve")  # type: ignore[attr-defined]
    listed = page.locator("#batch-items tbody tr")  # type: ignore[attr-defined]
    assert listed.count() == 2
    text = page.inner_text("#batch-items")  # type: ignore[attr-defined]
    for chosen in kept[:2]:
        assert chosen.action_id in text and chosen.digest[:16] in text
    assert kept[2].action_id not in text
    assert "echo batch 0" in text and "echo batch 1" in text
    page.click("#confirm")  # type: ignore[attr-defined]
    outcomes = page.inner_text("#outcomes")  # type: ignore[attr-defined]
    assert outcomes.count("committed") == 2, outcomes
    assert [(r / "notes.txt").read_text() for r in roots] == [
        "batch 0\n",
        "batch 1\n",
        "first\nsecond\n",
    ]


def test_hostile_strings_are_shown_inert(
    page: object, review: Review, tmp_path: Path, pg_dsn: str
) -> None:
    """HTML and script in a command, a file name, a diff and a row value: shown as text, never
    run (the page fixture fails on any dialog)."""
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    root = project(tmp_path / "p")
    held_fs = hold_fs(root, f"echo '{hostile}' > notes.txt; touch '<b onclick=alert(3)>.txt'")
    rows = table(pg_dsn)
    held_db = rows.hold(f"UPDATE {rows.name} SET v = '{hostile}' WHERE id = 1")
    for action_id in (held_fs.action_id, held_db.action_id):
        open_action(page, review, action_id)
        assert page.locator("main img, main script, main b").count() == 0  # type: ignore[attr-defined]
        assert hostile in page.inner_text("main")  # type: ignore[attr-defined]
        if action_id == held_fs.action_id:
            assert "<b onclick=alert(3)>.txt" in page.inner_text("section.files")  # type: ignore[attr-defined]
        page.click("#reject")  # type: ignore[attr-defined]
    assert held_fs.running.finish(timeout=60)[0] == 4
    assert held_db.running.finish(timeout=60)[0] == 4
    assert not (root / "<b onclick=alert(3)>.txt").exists()
