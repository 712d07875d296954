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


def assert_focus_visible(page: Page) -> dict:
    """The element that has focus is on screen and has a visible focus indicator."""
    style = focused_style(page)
    assert style is not None, "nothing has focus"
    outlined = style["outlineStyle"] != "none" and style["outlineWidth"] >= 2
    ringed = style["boxShadow"] not in ("", "none")
    assert outlined or ringed, f"focused element has no visible focus indicator: {style}"
    on_screen = style["width"] > 0 and style["height"] > 0 and style["inViewport"]
    assert on_screen, f"focused element is off screen: {style}"
    return style


def tab_to(page: Page, selector: str, max_presses: int = 60, check_each: bool = True) -> Locator:
    """Press Tab until the element matching ``selector`` has focus, checking the focus is visible at every stop."""
    target = page.locator(selector).first
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if check_each:
            assert_focus_visible(page)
        if target.evaluate("el => el === document.activeElement"):
            return target
    raise AssertionError(f"{selector} was not reached with {max_presses} presses of Tab")
