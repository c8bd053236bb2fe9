"""scSE Lens: landing page. Run with ``streamlit run app.py``."""

import streamlit as st

import scse_viz  # noqa: F401  (proves the package imports; also makes torchvision importable on CPU torch)

st.set_page_config(page_title="scSE Lens", layout="wide")

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

st.subheader("What the pages will do")
st.markdown(
    """
- **Upload** a photo, a 16-bit TIFF or a NIfTI volume and run it through a CNN that contains scSE blocks.
- **Channel gates (cSE):** show the per-channel weights of every block, which channels were kept and which were muted.
- **Spatial maps (sSE):** overlay each block's per-pixel weight map on the input image.
- **Compare** gates across blocks and between images, and export the figures.
"""
)

st.info("Use the sidebar to open the other pages.")
