"""Sphinx extension: the parts of the site that are generated from the code, so they are never written twice.

- ``.. digitnet-api::`` documents every name in ``digitnet.__all__`` (autodoc + numpydoc), grouped by
  the module that defines it: a name added to ``__all__`` appears without touching the docs.
- ``.. typer-cli:: MODULE:APP`` documents a typer application from the click command that typer builds
  (usage, help, every argument and option with its default, the example), read from the command itself.
  (sphinx-click cannot: typer vendors its own click, whose classes are not click's.)
- The benchmark pages: each ``benchmarks/*.md`` becomes a page that includes it, generated into
  ``docs/benchmarks/`` (ignored by git) when the build starts, so a new benchmark file gets a page;
  a link written for GitHub (``../benchmarks/RESULTS.md`` in docs/performance.md) leads to that page.
- :func:`drawing_model_figures`: what the shipped drawing model's file says of itself (its size, shape,
  training command, held-out scores), as MyST substitutions (``{{ drawing_pen_accuracy }}``), so the pages
  quote the file that ships, whoever rebuilds it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import io
import tokenize
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "benchmarks"
# the order of the benchmark pages; files not named here follow, alphabetically
BENCHMARK_ORDER = ["RESULTS", "MNIST", "REALWORLD", "CALIBRATION", "LOAD", "BIG_FILES", "TUNING_CHOICE", "TUNING",
                   "TUNING_MNIST", "SKLEARN_SEARCH"]

# the API reference's sections: digitnet's modules, in reading order, and what each holds
API_SECTIONS = {
    "pipeline": "Training",
    "trainer": "Training",
    "model": "Models",
    "persistence": "Model files",
    "config": "Settings and recipes",
    "data": "Data",
    "metrics": "Scores",
    "estimator": "scikit-learn",
    "errors": "Errors",
    "_version": "Version",
}


def public_names() -> dict[str, list[str]]:
    """Every name of ``digitnet.__all__``, grouped by the section of the module that defines it."""
    import digitnet

    groups: dict[str, list[str]] = {title: [] for title in dict.fromkeys(API_SECTIONS.values())}
    for name in digitnet.__all__:
        module = digitnet._WHERE.get(name, "_version")
        groups.setdefault(API_SECTIONS.get(module, "Other"), []).append(name)
    return {title: names for title, names in groups.items() if names}


def _data_doc(name: str) -> list[str]:
    """The ``#:`` comment above a module-level value, in the module (or the package's submodule) that assigns it."""
    import digitnet
    from sphinx.pycode import ModuleAnalyzer

    module = importlib.import_module(f"digitnet.{digitnet._WHERE.get(name, '_version')}")
    candidates = [module.__name__]
    if hasattr(module, "__path__"):  # a package re-exporting the name (digitnet.data): its submodules
        candidates += [f"{module.__name__}.{path.stem}" for path in sorted(Path(module.__path__[0]).glob("*.py"))]
    for candidate in candidates:
        docs = ModuleAnalyzer.for_module(candidate).find_attr_docs()
        if ("", name) in docs:
            return [line for line in docs[("", name)] if line.strip()]
    return []


def field_comments(cls) -> dict[str, str]:
    """The comment that ends the line declaring each field of a dataclass: ``n_hidden: int = 200  # neurons ...``."""
    comments, name, depth = {}, None, 0
    tokens = tokenize.generate_tokens(io.StringIO(inspect.cleandoc("\n" + inspect.getsource(cls))).readline)
    for token in tokens:
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type == tokenize.NAME and depth == 1 and token.line[: token.start[1]].strip() == "":
            name = token.string  # the first word of a line in the class body
        elif token.type == tokenize.COMMENT and name and token.line.lstrip().startswith(name):
            comments[name] = token.string.lstrip("#").strip()
        elif token.type in (tokenize.NEWLINE, tokenize.NL):
            name = None
    return comments


def _rst_text(text: str) -> str:
    """Plain text as reStructuredText shows it: |W1|, *, _ and backquotes are not markup in a comment."""
    for char in "\\*`|_":
        text = text.replace(char, "\\" + char)
    return text


def field_lines(cls) -> list[str]:
    """A dataclass's fields as py:attribute entries (type, default and the comment that documents each)."""
    comments, lines = field_comments(cls), []
    for field in dataclasses.fields(cls):
        lines += ["", f"   .. py:attribute:: {field.name}"]
        lines.append(f"      :type: {field.type}" if isinstance(field.type, str) else f"      :type: {field.type.__name__}")
        if field.default is not dataclasses.MISSING:
            lines.append(f"      :value: {field.default!r}")
        if field.name in comments:
            lines += ["", f"      {_rst_text(comments[field.name])}"]
    return lines + [""]


class PublicAPI(SphinxDirective):
    """Every public name of digitnet, from its docstring."""

    def run(self) -> list[nodes.Node]:
        import digitnet

        lines: list[str] = []
        for title, names in public_names().items():
            lines += [title, "-" * len(title), ""]
            for name in names:
                obj = getattr(digitnet, name)
                if inspect.isclass(obj) and issubclass(obj, BaseException):
                    lines += [f".. autoexception:: digitnet.{name}", "   :no-members:", ""]
                elif inspect.isclass(obj):
                    lines += [f".. autoclass:: digitnet.{name}", ""]
                    if dataclasses.is_dataclass(obj):  # its fields, documented by their comments in the source
                        lines += field_lines(obj)
                elif callable(obj):
                    lines += [f".. autofunction:: digitnet.{name}", ""]
                else:
                    value = repr(obj) if len(repr(obj)) <= 80 else f"{type(obj).__name__} of {len(obj)}"
                    lines += [f".. py:data:: digitnet.{name}", f"   :type: {type(obj).__name__}",
                              f"   :value: {value}", ""]
                    lines += [f"   {line}" for line in _data_doc(name)] + [""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="digitnet.__all__"), container)
        return container.children


class TyperCLI(SphinxDirective):
    """``.. typer-cli:: digitnet.cli:app`` with ``:prog: digitnet``: one section per command."""

    required_arguments = 1
    option_spec = {"prog": str}

    def run(self) -> list[nodes.Node]:
        import typer.main

        module_name, _, attr = self.arguments[0].partition(":")
        module = importlib.import_module(module_name)
        self.env.note_dependency(module.__file__)
        group = typer.main.get_command(getattr(module, attr))
        prog = self.options.get("prog", module_name)
        ctx = group.context_class(group, info_name=prog)
        out: list[nodes.Node] = [*self._command(group, ctx, prog, top=True)]
        for name, command in group.commands.items():
            if command.hidden:
                continue
            sub = command.context_class(command, info_name=name, parent=ctx)
            section = nodes.section(ids=[f"cli-{name}"], names=[f"{prog} {name}"])
            section += nodes.title(text=f"{prog} {name}")
            section.extend(self._command(command, sub, f"{prog} {name}", top=False))
            self.state.document.note_implicit_target(section, section)
            out.append(section)
        return out

    def _command(self, command, ctx, path: str, *, top: bool) -> list[nodes.Node]:
        usage = command.get_usage(ctx).removeprefix("Usage: ").strip()
        body: list[nodes.Node] = [nodes.literal_block(usage, usage, classes=["cli-usage"])]
        for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
            if paragraph.strip():
                body.append(nodes.paragraph(text=" ".join(paragraph.split())))
        options = nodes.definition_list(classes=["cli-options"])
        for param in command.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, help_text = record
            item = nodes.definition_list_item()
            term = nodes.term()
            term += nodes.literal(names, names)
            item += term
            definition = nodes.definition()
            definition += nodes.paragraph(text=" ".join(help_text.split()))
            item += definition
            options += item
        if len(options):
            body.append(options)
        if command.epilog:
            example = command.epilog.removeprefix("Example: ").strip()
            body.append(nodes.paragraph(text="Example:"))
            body.append(nodes.literal_block(example, example, language="console"))
        if top:
            commands = ", ".join(command.commands)
            body.append(nodes.paragraph(text=f"Commands: {commands}."))
        return body


def write_benchmark_pages(app) -> None:
    """docs/benchmarks/NAME.md including benchmarks/NAME.md, and their index, rewritten only when they change."""
    out = Path(app.srcdir) / "benchmarks"
    out.mkdir(exist_ok=True)
    found = {p.stem: p for p in BENCHMARKS.glob("*.md")}
    order = [n for n in BENCHMARK_ORDER if n in found] + sorted(set(found) - set(BENCHMARK_ORDER))
    pages = {
        f"{name}.md": f"<!-- generated by docs/_ext/digitnet_docs.py: edit benchmarks/{name}.md -->\n"
                      f"```{{include}} ../../benchmarks/{name}.md\n```\n"
        for name in order
    }
    pages["index.md"] = (
        "<!-- generated by docs/_ext/digitnet_docs.py -->\n# Benchmark tables\n\n"
        "Every table as `make bench` last wrote it (the files in `benchmarks/`), included here unchanged.\n"
        "How the figures are measured and why they are fair: the first page; why digitnet is fast: "
        "[performance](../performance.md).\n\n"
        "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(order) + "\n```\n"
    )
    for name, text in pages.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for stale in set(p.name for p in out.glob("*.md")) - set(pages):
        (out / stale).unlink()


class BenchmarkLinks(SphinxPostTransform):
    """Links to benchmarks/NAME.md (outside the docs folder) lead to the page that includes that file."""

    default_priority = 8  # before MyST resolves the links (9)

    def run(self, **kwargs) -> None:
        for node in self.document.findall(addnodes.pending_xref):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
                continue
            target = Path(self.env.srcdir, node["reftarget"]).resolve()
            if target.parent == BENCHMARKS and (BENCHMARKS / f"{target.name}.md").is_file():
                node["reftarget"] = f"benchmarks/{target.name}"


# the shipped drawing model's parts (data_source kinds) as the pages name them
DRAWING_PARTS = {"mnist": "mnist", "unipen": "pen", "sklearn-digits": "digits"}


def drawing_model_figures() -> dict[str, str]:
    """Substitutions for the pages, read from the drawing model shipped in the package (src/digitnet/models):
    ``drawing_mb``, ``drawing_shape`` ("784-200-10"), ``drawing_command``, ``drawing_accuracy`` (all its held-out
    rows), and for each part (mnist, pen, digits) ``drawing_PART_accuracy``, ``drawing_PART_test`` (held-out rows)
    and ``drawing_PART_train`` (rows trained on). Raises when the file lacks one: the build must not quote a
    figure the file does not hold."""
    import numpy as np

    from digitnet.models import drawing_path, load_drawing

    model = load_drawing()
    parts, scores = model.data_source["parts"], model.metrics["parts"]
    figures = {
        "drawing_mb": f"{drawing_path().stat().st_size / 1e6:.2f} MB",
        "drawing_shape": f"{model.n_inputs}-{model.params['W1'].shape[1]}-{model.n_classes}",
        "drawing_command": model.command or "",
        "drawing_accuracy": f"{model.metrics['accuracy']:.2%}",
        "drawing_test": f"{model.metrics['n_test']:,}",
    }
    bounds = np.cumsum([0] + [part["rows"] for part in parts])
    for part, start, stop in zip(parts, bounds[:-1], bounds[1:]):
        name = DRAWING_PARTS[part["kind"]]
        key = "digits" if part["kind"] == "sklearn-digits" else f"{part['kind']}:{part['path']}"
        n_test = int(np.count_nonzero((model.test_indices >= start) & (model.test_indices < stop)))
        figures[f"drawing_{name}_accuracy"] = f"{scores[key]:.2%}"
        figures[f"drawing_{name}_test"] = f"{n_test:,}"
        figures[f"drawing_{name}_train"] = f"{part['rows'] - n_test:,}"
    return figures


def skip_generated_members(app, what, name, obj, skip, options):
    """scikit-learn writes set_fit_request & co. into every estimator class: its metadata routing, not digitnet's API."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.add_post_transform(BenchmarkLinks)
    app.connect("autodoc-skip-member", skip_generated_members)
    app.add_directive("digitnet-api", PublicAPI)
    app.add_directive("typer-cli", TyperCLI)
    app.connect("builder-inited", write_benchmark_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
