"""Views that travel in the URL: a lecturer sets the controls, copies the link, and the class opens exactly that view.

Every control that is part of a view is created through :func:`select` (select box, radio, select slider),
:func:`multiselect`, :func:`slider`, :func:`number` or :func:`toggle`. A value in the link a page was opened with
(never one a control wrote since) is checked once against the control's options or range:
a valid one becomes the widget's starting value; an invalid or stale one (a block that no longer exists, a value
out of range) is dropped and the default shown, with one note for all of them. After the widget is drawn, its value
is written back to the URL (and removed when it is the default), so the address bar always holds the view and a
fresh browser reproduces it. ``hide=a,b`` in a link hides those controls (they keep the link's or the default
value), as TensorFlow Playground does, for a focused classroom view. Uploads cannot travel in a URL: a link made on
one names the file and asks for it. Streamlit only; no tensor math.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode, urlparse

import streamlit as st

SEEDED = "scse_link_seeded"  # URL parameters this session has already used (a link seeds a view once)
NOTES = "scse_link_notes"  # parameter -> why its value was dropped
HIDE = "hide"  # comma-separated parameters whose controls a link hides
OPENED = "scse_link_opened"  # page -> the URL parameters the session's first run of that page had (the link)
TOUCHED = "scse_link_touched"  # parameters this run's controls wrote or read; finish() drops the others


def hidden() -> set[str]:
    """The controls this link hides (``hide=block,cmap``)."""
    return {part.strip() for part in st.query_params.get(HIDE, "").split(",") if part.strip()}


def _page() -> str:
    """The page's path (pages may use the same parameter name for different controls)."""
    return urlparse(st.context.url or "").path


def _opened() -> dict[str, str]:
    """The URL parameters this page was opened with in this session (recorded by :func:`reserve`)."""
    return st.session_state.get(OPENED, {}).get(_page(), {})


def from_url(param: str, parse: Callable[[str], tuple[bool, Any, str]]) -> tuple[bool, Any]:
    """(True, value) the first time this session sees a valid URL value for ``param`` on this page; a bad one is
    noted."""
    seeded: set[str] = st.session_state.setdefault(SEEDED, set())
    where = f"{_page()}?{param}"
    opened = _opened()
    if where in seeded or param not in opened:  # only the link seeds: never a value a control wrote since
        return False, None
    seeded.add(where)
    raw = opened[param]
    ok, value, why = parse(raw)
    if not ok:
        st.session_state.setdefault(NOTES, {})[param] = f"**{param}={raw}**: {why}"
    return ok, value


def note(param: str, text: str) -> None:
    """Add a line to the link's note (for what a parameter could not restore, e.g. an upload)."""
    st.session_state.setdefault(NOTES, {})[param] = text


def linked(param: str) -> str | None:
    """The raw value of ``param`` in the link this page was opened with (None when absent), whatever the controls
    have written since; the parameter stays in the URL."""
    st.session_state.setdefault(TOUCHED, set()).add(param)
    return _opened().get(param)


def write(param: str, text: str | None, default: str | None) -> None:
    """Put a control's value into the URL; the default (or nothing) leaves it out, so links stay short."""
    st.session_state.setdefault(TOUCHED, set()).add(param)
    if text is None or text == default:
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != text:
        st.query_params[param] = text


KEPT_ON_PAGE = {"persist_state": "page"}  # a control inside a tab that is not open keeps its value (issue 24)


def _control(
    key: str,
    param: str,
    default: Any,
    parse: Callable[[str], tuple[bool, Any, str]],
    draw: Callable[[bool], Any],
    text: Callable[[Any], str],
    valid: Callable[[Any], bool] = lambda v: True,
    cast: Callable[[Any], Any] = lambda v: v,
) -> Any:
    """What every linked control does: seed its session value from the link once, reset a kept value that is no
    longer ``valid`` (another input's options) to the default, draw the widget unless the link hides it (``draw(True)`` when the
    widget must be given its default: the session holds no value for ``key`` yet), and write the value back."""
    ok, value = from_url(param, parse)
    if ok:
        st.session_state[key] = value
    if key in st.session_state and not valid(st.session_state[key]):
        # set, not deleted: a value set through the session state reaches the browser's widget, while after a
        # delete the browser kept showing the old choice (a block the new family's models do not have) over the
        # default that was drawn
        st.session_state[key] = default
    if param in hidden():
        chosen = cast(st.session_state.get(key, default))
    else:
        chosen = cast(draw(key not in st.session_state))
    write(param, text(chosen), text(default))
    return chosen


def select(
    where: Any,
    label: str,
    options: Sequence[Any],
    *,
    key: str,
    param: str | None = None,
    index: int = 0,
    names: Sequence[str] | None = None,
    kind: str = "selectbox",
    **kwargs: Any,
) -> Any:
    """A selectbox (or ``kind="radio"``) whose value is in the URL as ``param`` (default: the key), written as
    ``names`` (default: each option's ``str``)."""
    param = param or key
    options = list(options)
    names = [str(o) for o in options] if names is None else list(names)

    def parse(raw: str) -> tuple[bool, Any, str]:
        if raw in names:
            return True, options[names.index(raw)], ""
        return False, None, f"not one of the choices of “{label}” here ({_listed(names)}); showing {names[index]}"

    start = {"value": options[index]} if kind == "select_slider" else {"index": index}
    return _control(
        key,
        param,
        options[index],
        parse,
        lambda first: getattr(where, kind)(
            label, options, key=key, **(start if first else {}), **KEPT_ON_PAGE, **kwargs
        ),
        lambda v: names[options.index(v)],
        valid=lambda v: v in options,
    )


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names[:8]) + (" …" if len(names) > 8 else "")


def multiselect(
    where: Any,
    label: str,
    options: Sequence[Any],
    default: Sequence[Any],
    *,
    key: str,
    param: str | None = None,
    names: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """A multiselect whose choice is in the URL as a comma-separated list of ``names`` ("none" for an empty one)."""
    param = param or key
    options = list(options)
    names = [str(o) for o in options] if names is None else list(names)
    written = {o: n for o, n in zip(options, names)}

    def text(values: Sequence[Any]) -> str:
        return ",".join(written[v] for v in values) if values else "none"

    def parse(raw: str) -> tuple[bool, Any, str]:
        parts = [] if raw == "none" else [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [part for part in parts if part not in names]
        if unknown:
            return (
                False,
                None,
                (
                    f"{', '.join(unknown)}: not among the choices of “{label}” here "
                    f"({_listed(names)}); showing {text(default)}"
                ),
            )
        return True, [options[names.index(part)] for part in dict.fromkeys(parts)], ""

    return _control(
        key,
        param,
        list(default),
        parse,
        lambda first: where.multiselect(
            label, options, key=key, **({"default": list(default)} if first else {}), **KEPT_ON_PAGE, **kwargs
        ),
        text,
        valid=lambda values: all(v in options for v in values),
        cast=list,
    )


def slider(
    where: Any,
    label: str,
    low: float,
    high: float,
    value: float,
    step: float | None = None,
    *,
    key: str,
    param: str | None = None,
    **kwargs: Any,
) -> Any:
    """A slider whose value is in the URL; a number outside [low, high] (or not a number) falls back."""
    param = param or key
    kind = type(value)

    def parse(raw: str) -> tuple[bool, Any, str]:
        try:
            number = kind(float(raw)) if kind is int and float(raw).is_integer() else kind(raw)
        except ValueError:
            return False, None, f"“{label}” takes a number from {low} to {high}; showing {value}"
        if not low <= number <= high:
            return False, None, f"“{label}” goes from {low} to {high}; showing {value}"
        return True, number, ""

    return _control(
        key,
        param,
        value,
        parse,
        lambda first: where.slider(
            label, low, high, step=step, key=key, **({"value": value} if first else {}), **KEPT_ON_PAGE, **kwargs
        ),
        lambda v: f"{v:g}",
    )


def number(
    where: Any, label: str, low: int, high: int, value: int, *, key: str, param: str | None = None, **kwargs: Any
) -> int:
    """A whole-number input whose value is in the URL; one outside [low, high] (or not whole) falls back."""
    param = param or key

    def parse(raw: str) -> tuple[bool, Any, str]:
        if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
            return False, None, f"“{label}” takes a whole number from {low} to {high}; showing {value}"
        return True, int(raw), ""

    return _control(
        key,
        param,
        value,
        parse,
        lambda first: where.number_input(
            label, low, high, step=1, key=key, **({"value": value} if first else {}), **KEPT_ON_PAGE, **kwargs
        ),
        str,
        cast=int,
    )


def toggle(where: Any, label: str, *, key: str, param: str | None = None, value: bool = False, **kwargs: Any) -> bool:
    """A toggle whose state is in the URL as 1 / 0."""
    param = param or key

    def parse(raw: str) -> tuple[bool, Any, str]:
        if raw.lower() in ("1", "true", "on", "yes", "0", "false", "off", "no"):
            return True, raw.lower() in ("1", "true", "on", "yes"), ""
        return False, None, f"“{label}” is 1 (on) or 0 (off); showing {'on' if value else 'off'}"

    return _control(
        key,
        param,
        value,
        parse,
        lambda first: where.toggle(label, key=key, **({"value": value} if first else {}), **KEPT_ON_PAGE, **kwargs),
        lambda v: "1" if v else "0",
        cast=bool,
    )


def tabs(
    labels: Sequence[str],
    *,
    key: str,
    names: Sequence[str],
    param: str = "tab",
    implied: dict[str, str] | None = None,
    opening: str | None = None,
) -> list[Any]:
    """Tabs of which only the open one runs (``st.tabs(..., on_change="rerun")``: each tab's ``.open``), with the
    open tab in the URL as ``param`` (written as ``names``; the first tab is the default and stays out of the link).

    A link naming a tab opens it; a link made before tabs were named, that sets a control living in one tab
    (``implied``: URL parameter -> tab label, e.g. ``knockout`` -> "Knock-out"), opens that tab. ``opening``: a
    label to open in this run whatever was open (a button inside a tab that must find its tab again). Why lazy:
    a person looks at one tab, so an upload computes and sends that tab alone and the others on demand."""
    labels, names = list(labels), list(names)
    where = f"{_page()}?{param}"
    seeded: set[str] = st.session_state.setdefault(SEEDED, set())
    if where not in seeded:
        seeded.add(where)
        opened = _opened()
        if param in opened:
            if opened[param] in names:
                st.session_state[key] = labels[names.index(opened[param])]
            else:
                st.session_state.setdefault(NOTES, {})[param] = (
                    f"**{param}={opened[param]}**: no such tab here ({_listed(names)}); showing {names[0]}"
                )
        else:
            first = next((implied[p] for p in opened if implied and p in implied), None)
            if first is not None:
                st.session_state[key] = first
    if opening is not None:
        st.session_state[key] = opening
    containers = st.tabs(labels, key=key, on_change="rerun")
    open_label = next((label for label, tab in zip(labels, containers) if tab.open), labels[0])
    write(param, names[labels.index(open_label)], names[0])
    return list(containers)


def current_link() -> str:
    """This view's address: the page's URL (as the browser reached it) with the query string of every control."""
    base = st.context.url or ""
    query = urlencode(st.query_params.to_dict())
    return f"{base}?{query}" if query else base


def link_box(where: Any) -> None:
    """The "copy link" control: the view's address in a code box (its copy button puts it on the clipboard)."""
    with where.expander("Link to this view", icon=":material/link:"):
        st.caption(
            "Opens this page with every control as it is now. Add `&hide=` and control names "
            "(comma-separated, e.g. `hide=cmap,alpha`) to hide them for the class."
        )
        st.code(current_link(), language=None, wrap_lines=True)


def show_notes() -> None:
    """One note for everything a link asked for that could not be restored (kept for the session's views)."""
    notes = st.session_state.get(NOTES)
    if notes:
        st.info(
            "Not everything in this link could be restored:\n" + "\n".join(f"- {t}" for t in notes.values()),
            icon=":material/link_off:",
        )


SLOTS = "scse_link_slots"  # this run's places for the note and the link box (reserved by ``reserve``)


def reserve() -> None:
    """At the start of a page's run (``page_links``): remember the link the page was opened with, and keep a place
    at the top of the page for the note and one in the sidebar for the link box."""
    st.session_state.setdefault(OPENED, {}).setdefault(_page(), st.query_params.to_dict())
    st.session_state[TOUCHED] = set()
    st.session_state[SLOTS] = (st.empty(), st.sidebar.empty())


def finish() -> None:
    """At the end of a page: parameters of controls not drawn in this run leave the URL, then the note and the link
    box go in the places kept for them, now that every control has written its value."""
    slots = st.session_state.pop(SLOTS, None)
    if slots is None:
        return
    touched = st.session_state.get(TOUCHED, set())
    for param in [p for p in st.query_params if p not in touched and p != HIDE]:
        del st.query_params[param]  # a control of another mode or input, not on screen now: not part of the view
    top, side = slots
    with top.container():
        show_notes()
    link_box(side.container())
