"""Attribution: does each model's sSE attention point where the evidence for its output is?"""

from __future__ import annotations

import streamlit as st

import scse_viz  # noqa: F401  (torchvision shim first)
from scse_viz import compare_attribution, explore
from scse_viz.attribution import METHOD_LABELS, METHODS, Settings
from scse_viz.render import figure_bytes, raster
from scse_viz.render.attribution import (
    ATTRIBUTION_CMAP,
    MEASURES,
    OVERLAP_COLORS,
    OVERLAP_NAMES,
    agreement_chart,
    attribution_grid_figure,
    overlap_picture,
)
from scse_viz.ui import links
from scse_viz.ui.attributions import compute, kept
from scse_viz.ui.charts import show_chart
from scse_viz.ui.inputs import choose_family, choose_input
from scse_viz.ui.navigation import page_links
from scse_viz.ui.pictures import COLORMAPS, picture_memo, show_colorbar, show_encoded
from scse_viz.ui.runs import family_run
from scse_viz.ui.state import memo

st.set_page_config(page_title="Attribution · scSE Lens", layout="wide")
page_links()
IG_STEPS = [8, 16, 32, 64, 128]

family = choose_family()
image = choose_input(family)
st.title("Attention versus attribution")
st.markdown(
    "An sSE map says where a block lets features through, for every class at once. An attribution (captum) says "
    "which input pixels the chosen output depends on. Where both agree, the attention points at the evidence. "
    "Agreement per block: **Spearman ρ** between the sSE map and |attribution| over all pixels, and the **IoU** of "
    "their top-k % pixels, on the grid the model saw."
)
if image is None:
    st.info("Choose a bundled sample or upload an image in the sidebar.")
    links.finish()
    st.stop()

run = family_run(family, image)
names = list(family.class_names)
shown = explore.display_image(run)
blocks = compare_attribution.sse_blocks(run)
picture = picture_memo("attr-encoded-picture", run.key)


def target_name(k: int) -> str:
    missing = compare_attribution.missing_from(run, k)
    return names[k] + (f" (predicted nowhere by {', '.join(missing)})" if missing else "")


controls, view = st.columns([1, 3])
with controls:
    # keyed per input, so that a new input starts at its own default target
    class_index = links.select(
        st,
        family.task.target_label,
        range(len(names)),
        index=compare_attribution.default_target(run),
        format_func=target_name,
        key=f"attr-target-{run.key}",
        param="target",
        names=names,
    )
    st.caption(family.task.target_explanation)
    methods = links.multiselect(
        st,
        "Methods",
        list(METHODS),
        ["integrated_gradients"],
        format_func=METHOD_LABELS.get,
        key="attr-methods",
        param="methods",
    )
    n_steps = links.select(
        st,
        "Integrated Gradients steps",
        IG_STEPS,
        index=IG_STEPS.index(32),
        kind="select_slider",
        key="attr-steps",
        param="steps",
    )
    nt_samples = links.slider(st, "NoiseTunnel samples", 2, 16, 4, key="attr-nt", param="nt")
    settings = Settings(n_steps=n_steps, nt_samples=nt_samples)
    todo = compare_attribution.jobs(run, methods)
    pressed = st.button("Compute attributions", type="primary", disabled=not todo, key="attr-compute")
    st.divider()
    block = (
        links.select(st, "Block", blocks, index=len(blocks) - 1, key="attr-block", param="block") if blocks else None
    )
    top_k = links.slider(st, "Top-k % (IoU)", 1, 50, 10, key="attr-topk", param="topk")
    cmap = links.select(st, "Colormap (sSE map)", COLORMAPS, key="attr-cmap", param="cmap")
    alpha = links.slider(st, "Opacity", 0.0, 1.0, 0.5, 0.05, key="attr-alpha", param="alpha")

if pressed:
    with view:
        compute(run, todo, class_index, settings)
results = {job: kept(run, job, class_index, settings) for job in todo}
done = [r for r in results.values() if r is not None]

with view:
    if not done:
        st.info(
            "Choose a target and methods, then press **Compute attributions**: every model is explained once "
            "and kept, so display settings change nothing but the pictures. Integrated Gradients with 32 steps "
            "takes seconds on the garments and tens of seconds on the brain slices on a small CPU; "
            "NoiseTunnel and Occlusion take several times longer."
        )
    missing = [job for job, r in results.items() if r is None]
    if done and missing:
        st.caption(
            "Not computed yet for these settings: "
            + ", ".join(f"{run.outputs[j.variant].label} · {METHOD_LABELS[j.method]}" for j in missing)
        )
    failed = [r for r in done if r.error]
    if failed:
        st.error(
            "\n\n".join(f"**{run.outputs[r.variant].label} · {METHOD_LABELS[r.method]}**: {r.error}" for r in failed)
        )


def panel(method_run: compare_attribution.MethodRun) -> compare_attribution.Panel:
    key = ("attr-panel", run.key, method_run.variant, method_run.method, class_index, method_run.settings, block, top_k)
    return memo(key, lambda: compare_attribution.panel(run, method_run, block, top_k))


legend = " ".join(
    f"<span style='background:{c};padding:0 8px'>&nbsp;</span> {n}" for c, n in zip(OVERLAP_COLORS, OVERLAP_NAMES)
)
sections = []  # (method, its runs, their panels, the shared colour limit)
for method in methods:
    method_runs = [r for r in done if r.method == method and not r.error]
    if method_runs:
        panels = [panel(r) for r in method_runs]
        limits = [p.limit for p in panels if p.attribution is not None]
        sections.append((method, method_runs, panels, max(limits, default=1.0)))

with view:
    for method, method_runs, panels, limit in sections:
        st.subheader(METHOD_LABELS[method] + (f" on {block}" if METHODS[method].per_block else ""))
        st.caption(
            f"Explained: {method_runs[0].explained}. Attributions on ±L, L = {limit:.3g} (the largest of the "
            "models' 99.5th percentiles of |attribution|): red raises the target, blue lowers it. "
            "Top-k overlap: " + legend,
            unsafe_allow_html=True,
        )
        for column, method_run, p in zip(st.columns(len(method_runs)), method_runs, panels):
            tag = (method_run.variant, method, class_index, method_run.settings, block)
            with column:
                st.markdown(f"**{run.outputs[method_run.variant].label}**")
                if p.attribution is None:
                    st.caption(p.note)
                    continue
                show_encoded(
                    st,
                    picture(
                        ("attr", *tag, alpha, limit),
                        lambda p=p: raster.overlay(shown, p.attribution, ATTRIBUTION_CMAP, alpha, -limit, limit),
                    ),
                    f"attribution: min {p.attribution.min():.3g}, max {p.attribution.max():.3g}",
                )
                if p.sse is None:
                    st.caption(p.note)
                    continue
                show_encoded(
                    st,
                    picture(("sse", *tag, cmap, alpha), lambda p=p: raster.overlay(shown, p.sse, cmap, alpha)),
                    f"sSE map q of {block} (0 → 1, {cmap})",
                )
                show_encoded(
                    st,
                    picture(("overlap", *tag, top_k), lambda p=p: overlap_picture(shown, p.overlap)),
                    f"top {top_k} %: ρ = {p.score.spearman:.3f}, IoU = {p.score.iou:.3f}",
                )
        show_colorbar(
            st,
            ATTRIBUTION_CMAP,
            -limit,
            limit,
            f"attribution to “{names[class_index]}”: red raises it, white leaves it, blue lowers it (clipped at ±L)",
        )
        if any(p.sse is not None for p in panels):
            show_colorbar(st, cmap, 0.0, 1.0, f"sSE gate q of {block}: 0 shuts a pixel's features, 1 lets them through")

    rows = compare_attribution.agreement_rows(run, [r for r in done if not r.error], top_k)
    if rows:
        st.subheader("Agreement per block")
        st.dataframe(
            [
                {
                    "model": r["model"],
                    "method": r["method"],
                    "block": r["block"],
                    "stride": r["stride"],
                    "Spearman ρ": r["spearman"],
                    f"IoU top {top_k} %": r["iou"],
                }
                for r in rows
            ],
            hide_index=True,
        )
        measure = links.select(
            st,
            "Chart",
            list(MEASURES),
            format_func=MEASURES.get,
            horizontal=True,
            kind="radio",
            key="attr-measure",
            param="chart",
        )
        show_chart(st, agreement_chart(rows, measure), numbers=False)  # the table above holds its numbers

    if done:
        st.subheader("Export")
        page_settings = {
            "target_class": class_index,
            "target_name": names[class_index],
            "methods": methods,
            "ig_steps": n_steps,
            "nt_samples": nt_samples,
            "block": block,
            "top_k_percent": top_k,
            "colormap": cmap,
            "opacity": alpha,
        }
        stem = f"scse-lens_attribution_{family.name}_{image.key}_{class_index}"
        kept_runs = [r for r in done if not r.error]
        left, middle, right = st.columns(3)
        left.download_button(
            "CSV (maps and scores)",
            lambda: compare_attribution.to_csv(run, kept_runs, top_k, page_settings),
            f"{stem}.csv",
            "text/csv",
            key="attr-csv",
            on_click="ignore",
        )
        middle.download_button(
            "NPZ (maps and scores)",
            lambda: compare_attribution.to_npz(run, kept_runs, top_k, page_settings),
            f"{stem}.npz",
            "application/octet-stream",
            key="attr-npz",
            on_click="ignore",
        )
        for method, _, panels, limit in sections:

            def png(method=method, panels=panels, limit=limit) -> bytes:
                title = f"{METHOD_LABELS[method]} · {names[class_index]} · block {block} · top {top_k} %"
                cells = [(run.outputs[p.variant].label, p.attribution, p.sse, p.overlap, p.note) for p in panels]
                return figure_bytes(attribution_grid_figure(shown, cells, limit, cmap=cmap, alpha=alpha, title=title))

            right.download_button(
                f"PNG: {METHOD_LABELS[method]}",
                png,
                f"{stem}_{method}.png",
                "image/png",
                key=f"attr-png-{method}",
                on_click="ignore",
            )

links.finish()
