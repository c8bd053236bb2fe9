"""The Streamlit layer the pages share: cached models, the shared input selection, kept results.

Layering: ``scse_viz`` core (torch, no streamlit) -> ``scse_viz.render`` (numpy/matplotlib, no streamlit) ->
``scse_viz.ui`` (this package: streamlit widgets and session state, no tensor math) -> ``pages/`` (layout).
``import scse_viz`` never imports this package, so the library works without streamlit.
"""
