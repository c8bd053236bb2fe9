"""scSE Lens: the landing page and entry point (``streamlit run app.py``); the other pages are in ``pages/``."""

import streamlit as st

import scse_viz  # noqa: F401  (makes torchvision importable on CPU torch before anything else imports it)
from scse_viz import zoo
from scse_viz.render import figure_bytes
from scse_viz.render.diagram import scse_diagram_figure
from scse_viz.ui import links
from scse_viz.ui.navigation import page_links
from scse_viz.ui.state import FAMILY

st.set_page_config(page_title="scSE Lens", layout="wide")
page_links()


@st.cache_data(show_spinner=False)
def diagram_png() -> bytes:
    return figure_bytes(scse_diagram_figure(), "png", dpi=110)


st.title("scSE Lens")
st.caption("See what the squeeze-and-excitation gates of a CNN computed for your image.")

st.markdown(
    """
**cSE** (channel squeeze & excitation) pools every channel of a feature map `x` over the whole image and passes
that global context through a small bottleneck, giving one weight `w` in (0, 1) per channel.
**sSE** (spatial squeeze & excitation) squeezes the channels with a 1×1 convolution and a sigmoid, giving one
weight `q` in (0, 1) per pixel.
**scSE** applies both gates to the same feature map and adds the results: `x·w + x·q`.
"""
)
st.image(diagram_png(), caption="The scSE block (Roy, Navab and Wachinger, MICCAI 2018).", output_format="PNG")

st.subheader("Model families")
st.markdown(
    "Each family holds four models trained alike that differ only in their attention blocks: a baseline "
    "without attention, cSE, sSE and scSE."
)
for column, spec in zip(st.columns(len(zoo.FAMILIES)), zoo.list_families()):
    with column:
        st.markdown(f"#### {spec.title}")
        st.caption(f"Trained on {spec.trained_on}.")
        try:
            card = spec.card()
        except FileNotFoundError:
            st.warning("No card shipped for this family.")
            continue
        st.dataframe(
            [
                {
                    "model": entry["label"],
                    card["metric"]: f"{entry['metric']['mean']:.4f} ± {entry['metric']['std']:.4f}",
                    "parameters": f"{entry['parameters']:,}",
                    "overhead": f"{entry['overhead_percent']:+.2f} %",
                }
                for entry in card["variants"].values()
            ],
            hide_index=True,
        )
        seeds = len(next(iter(card["variants"].values()))["seeds"])
        spread = f"Mean ± standard deviation over {seeds} seeds" if seeds > 1 else "One seed per model (no spread)"
        st.caption(f"{spread}, measured on the test set ({card['measured_on']}).")
        if st.button("Open a sample in the explorer", key=f"open-{spec.name}", type="primary"):
            st.session_state[FAMILY] = spec.name
            st.switch_page("pages/1_Explore.py")

st.info("Use the sidebar to open the other pages.")

links.finish()
