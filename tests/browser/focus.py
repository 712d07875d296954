"""Keyboard helpers: move focus with Tab only, and check that the focused element is visibly marked."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

# What the focused element looks like, from the browser's computed style: an outline of at least 2 px that is not
# "none", or a box-shadow (our focus ring is both: webapp/static/css/commintel.css).
FOCUS_STYLE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || el.value || '').trim().slice(0, 60),
    outlineStyle: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth) || 0, outlineColor: s.outlineColor,
    boxShadow: s.boxShadow, width: r.width, height: r.height,
    inViewport: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth,
  };
}"""


def focused_style(page: Page) -> dict | None:
    return page.evaluate(FOCUS_STYLE)


def _ringed(style: dict) -> bool:
    outlined = style["outlineStyle"] != "none" and style["outlineWidth"] >= 2
    return outlined or style["boxShadow"] not in ("", "none")


def assert_focus_visible(page: Page, settle_ms: int = 2000) -> dict:
    """The element that has focus is on screen and has a visible focus indicator.

    Read again for up to ``settle_ms`` as Playwright's own assertions do: on a loaded CI machine Chromium once
    reported the skip link focused (moved on screen by ``.skip-link:focus``) before it matched ``:focus-visible``,
    with only the browser's 1 px ring. A page without the ring still fails, after the wait."""
    style = focused_style(page)
    for _ in range(settle_ms // 100):
        if style is not None and _ringed(style):
            break
        page.wait_for_timeout(100)
        style = focused_style(page)
    assert style is not None, "nothing has focus"
    assert _ringed(style), f"focused element has no visible focus indicator: {style}"
    on_screen = style["width"] > 0 and style["height"] > 0 and style["inViewport"]
    assert on_screen, f"focused element is off screen: {style}"
    return style


def tab_to(page: Page, selector: str, max_presses: int = 60, check_each: bool = True) -> Locator:
    """Press Tab until the element matching ``selector`` has focus, checking the focus is visible at every stop."""
    target = page.locator(selector).first
    # The stylesheet first: under load CI once pressed Tab on a page whose CSS had not been applied yet and saw the
    # browser's own 1 px ring on the skip link (the page's ring is 3 px once commintel.css is in).
    page.wait_for_load_state("load")
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if check_each:
            assert_focus_visible(page)
        if target.evaluate("el => el === document.activeElement"):
            return target
    raise AssertionError(f"{selector} was not reached with {max_presses} presses of Tab")
