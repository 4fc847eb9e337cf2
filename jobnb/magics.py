"""The notebook magics: ``%load_ext jobnb``, then ``%%submit`` on a long cell.

The magics hold no per-backend code: a cell becomes a Payload (its source, the values
of the names it reads, the names it binds) and goes through the same API as
``jobnb.submit``. The names a finished cell bound are written into the notebook just
before the next cell runs (IPython's ``pre_run_cell`` event), never from a background
thread in the middle of another cell.
"""

from __future__ import annotations

import ast
import re
import shlex
import sys
import warnings
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from . import api, arguments, capture
from .backends import known_names
from .exceptions import ConfigError, JobnbError, JobNotFound, NotebookError, PayloadError
from .job import Job
from .model import JobStatus
from .payload import last_line
from .payload import notebook as notebooks
from .widgets.display import has_frontend, register_display

# Names IPython puts in the namespace itself (_, __, _i3, _5, ...): never inputs.
_IPYTHON_NAME = re.compile(r"^(_+|_i+|_i?\d+|_[ido]h)$")

#: %submit_notebook's options: jobnb run's, where IPython fills in the notebook's values
_NOTEBOOK_OPTIONS = tuple(
    opt.with_help("$name and {expr} take the notebook's values.") if "-p" in opt.flags else opt
    for opt in arguments.NOTEBOOK_JOB
) + (arguments.NOTIFY,)


def _declared(options: tuple[arguments.Option, ...]):
    """Declare ``options`` as a magic's arguments (its parser and its help)."""

    def declare(func):
        for opt in reversed(options):
            func = argument(*opt.flags, **opt.settings)(func)
        return magic_arguments()(func)

    return declare


@magics_class
class JobMagics(Magics):
    """The jobnb magics. One instance per shell; it remembers which cell jobs to pull."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.pending: list[Job] = []  # %%submit jobs whose outputs are still to pull

    # --- %%submit and %submit --------------------------------------------------------------
    @_declared(arguments.CELL_JOB)
    @line_cell_magic
    def submit(self, line: str, cell: str | None = None) -> Job:
        """Run a cell (``%%submit``) or a call (``%submit f(x)``) as a background job.

        The prompt comes back at once and the Job is the cell's value (so ``_`` holds
        it). The cell reads the notebook's values as they are when it is submitted
        (copies on every backend but ``thread``); the names it assigns come back into
        the notebook when it finishes, before the next cell runs.

        Examples::

            %%submit -n train -t 3600
            model = fit(data, lr=0.1)

            job = %submit fit(data, lr=0.1)
        """
        if cell is None:
            return self._submit_call(line)
        args = _parse(self.submit, line, shown_as="%%submit")
        if args.expression:
            raise UsageError(
                f"%%submit takes options only, not {' '.join(args.expression)!r}; "
                "see %%submit? for them"
            )
        source = _python_source(cell, self.shell)
        names = capture.analyze(source)
        inputs = {
            name: self.shell.user_ns[name]
            for name in names.inputs
            if name in self.shell.user_ns and not self._ipython_name(name)
        }
        name = args.name or f"cell-{self.shell.execution_count}"
        submitter = _submitter(name, args)
        try:
            job = submitter.submit_cell(source, inputs, names.outputs, namespace=self.shell.user_ns)
        except PayloadError as exc:
            raise UsageError(f"{exc} With %%submit, add -b thread.") from None
        if not args.no_pull:
            self.pending.append(job)
        return job

    def _submit_call(self, line: str) -> Job:
        options, text = _leading_options(line)
        args = _parse(self.submit, options)
        if not text:
            raise UsageError("%submit needs a call to run, e.g. %submit train(lr=0.1)")
        fn, positional, keywords = self._read_call(text, "%submit")
        try:
            return _submitter(args.name, args).submit(fn, *positional, **keywords)
        except PayloadError as exc:
            raise UsageError(f"{exc} With %submit, add -b thread.") from None

    def _read_call(self, text: str, shown_as: str) -> tuple[Any, list[Any], dict[str, Any]]:
        """The function, arguments and keywords of the call ``text``, evaluated in the
        notebook's namespace."""
        try:
            call = ast.parse(text, mode="eval").body
        except SyntaxError as exc:
            raise UsageError(f"{shown_as} cannot read {text!r}: {exc.msg}") from None
        if not isinstance(call, ast.Call):
            raise UsageError(f"{shown_as} needs a call, like train(lr=0.1), not {text!r}")
        fn = self._evaluate(call.func)
        positional: list[Any] = []
        for node in call.args:
            if isinstance(node, ast.Starred):
                positional.extend(self._evaluate(node.value))
            else:
                positional.append(self._evaluate(node))
        keywords: dict[str, Any] = {}
        for keyword in call.keywords:
            if keyword.arg is None:
                keywords.update(self._evaluate(keyword.value))
            else:
                keywords[keyword.arg] = self._evaluate(keyword.value)
        return fn, positional, keywords

    # --- %schedule --------------------------------------------------------------------------
    @_declared(arguments.SCHEDULE)
    @line_magic
    def schedule(self, line: str) -> Any:
        """Run a call or a notebook on a schedule, from the queue workers
        (jobnb.schedule): the Schedule is the cell's value.

        Examples::

            %schedule --every 15m -n refresh refresh_cache(region="north")
            %schedule --cron "0 6 * * *" --notebook report.ipynb -p day=0
        """
        from . import scheduling  # lazy: the schedule stores load redis and huey

        options, text = _leading_options(line, arguments.SCHEDULE)
        args = _parse(self.schedule, options)
        settings = {
            "cron": args.cron,
            "every": args.every,
            "tz": args.tz,
            "catchup": args.catchup,
            "name": args.name,
            "job_name": args.job_name,
            "timeout": args.timeout,
            "queue": args.queue,
            "backend": args.backend,
            "replace": not args.no_replace,
        }
        try:
            if args.notebook is not None:
                if text:
                    raise UsageError("%schedule takes a call or --notebook, not both")
                parameters = dict(notebooks.parse_parameter(p) for p in args.parameter)
                parameters.update(notebooks.parse_parameter(p, raw=True) for p in args.raw)
                return scheduling.schedule(
                    args.notebook,
                    parameters=parameters,
                    output=args.output,
                    kernel_name=args.kernel,
                    **settings,
                )
            if not text:
                raise UsageError(
                    "%schedule needs a call or --notebook, e.g. %schedule --every 15m f(x)"
                )
            fn, positional, keywords = self._read_call(text, "%schedule")
            return scheduling.schedule(fn, *positional, kwargs=keywords, **settings)
        except (JobnbError, ValueError) as exc:
            raise UsageError(str(exc)) from None

    def _evaluate(self, node: ast.expr) -> Any:
        code = compile(ast.Expression(node), "<%submit>", "eval")
        return eval(code, self.shell.user_global_ns, self.shell.user_ns)

    def _ipython_name(self, name: str) -> bool:
        return name in self.shell.user_ns_hidden or bool(_IPYTHON_NAME.match(name))

    # --- %submit_notebook ------------------------------------------------------------------
    @_declared(_NOTEBOOK_OPTIONS)
    @line_magic
    def submit_notebook(self, line: str) -> Job:
        """Run a whole notebook as a background job (jobnb.submit_notebook): the
        prompt comes back at once and the Job (its live widget) is the cell's value.

        Its progress counts cells; its log holds what the cells print; job.result() is
        a dict of the values the notebook gave to jobnb.record(name, value).

        Examples::

            job = %submit_notebook analysis.ipynb -p lr=0.1 -p region=north
            %submit_notebook report.ipynb -p day=$today -o reports/ -b huey
        """
        args = _parse(self.submit_notebook, line)
        try:
            parameters = dict(notebooks.parse_parameter(p) for p in args.parameter)
            parameters.update(notebooks.parse_parameter(p, raw=True) for p in args.raw)
            return _submitter(args.name, args).submit_notebook(
                args.notebook, parameters, args.output, args.kernel
            )
        except (NotebookError, PayloadError) as exc:
            raise UsageError(str(exc)) from None

    # --- pulling finished cells ----------------------------------------------------------
    def pull_finished(self, info: Any = None) -> None:
        """``pre_run_cell`` handler: write the outputs of the cell jobs that have ended."""
        for job in list(self.pending):
            try:
                if not job.done():
                    continue
            except JobnbError:
                continue  # the backend cannot be reached now; try again next cell
            self.pending.remove(job)
            _report_pull(job)

    # --- %jobs, %job, %pull, %cancel ---------------------------------------------------------
    @magic_arguments()
    @argument(
        "-l",
        "--list",
        action="store_true",
        help="a plain table instead of the live dashboard",
    )
    @argument(
        "-s",
        "--status",
        help="only jobs with this status (waiting, queued, running, finished, failed, "
        "cancelled, lost)",
    )
    @argument("-n", "--limit", type=int, default=20, help="at most this many rows (default 20)")
    @line_magic
    def jobs(self, line: str) -> Any:
        """The live dashboard of every job (in a notebook), or with -l a plain table of
        the jobs of this kernel's backends, newest first."""
        args = _parse(self.jobs, line)
        if not args.list and not args.status and has_frontend(self.shell):
            from .widgets.dashboard import dashboard  # (ipywidgets: heavy, a notebook's only)

            return dashboard(page_size=args.limit)
        try:
            frame = api.jobs_df(args.status)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if frame.empty:
            print("no jobs" + (f" with status {args.status}" if args.status else ""))
            return
        frame = frame.head(args.limit)
        view = frame[["id", "name", "status", "backend", "duration", "progress"]].copy()
        view["submitted"] = frame["submitted"].dt.tz_convert(None).dt.strftime("%H:%M:%S")
        view["duration"] = frame["duration"].map(lambda s: "" if s != s else f"{s:.1f}s")
        view["progress"] = frame["progress"].map(
            lambda p: "" if p is None or p != p else f"{p:.0%}"
        )
        view["error"] = frame["error"].map(lambda e: last_line(e) if isinstance(e, str) else "")
        print(view.to_string(index=False))

    @magic_arguments()
    @argument("job", help="the job's id or name")
    @line_magic
    def job(self, line: str) -> Job | None:
        """Show a job: its live widget in a notebook; in a terminal its status, what it
        runs, its logs and its error."""
        job = _get(_parse(self.job, line).job)
        if has_frontend(self.shell):
            return job  # displayed as its widget
        rec = job.record()
        print(repr(job))
        if rec.progress.message or rec.progress.total:
            total = f"/{rec.progress.total:g}" if rec.progress.total else ""
            print(f"progress: {rec.progress.done:g}{total} {rec.progress.message or ''}")
        print(f"runs: {rec.description}")
        logs = job.logs()
        print("logs:\n" + (logs if logs else "(none yet)\n"), end="")
        if rec.error:
            print("error:\n" + rec.error, end="")

    @magic_arguments()
    @argument("job", help="the id or name of a finished %%submit job")
    @line_magic
    def pull(self, line: str) -> list[str]:
        """Write the variables a finished %%submit cell assigned into the notebook now."""
        job = _get(_parse(self.pull, line).job)
        kind = job.record().kind
        if kind != "cell":
            what = "a notebook" if kind == "notebook" else "a function"
            raise UsageError(
                f"job {job.id} ({job.name}) ran {what}, not a %%submit cell: "
                "its value is job.result()"
            )
        if not job.done():
            raise UsageError(
                f"job {job.id} ({job.name}) is still {job.status.value}; "
                "wait for it (job.wait()) or let it be pulled when it finishes"
            )
        job.namespace = self.shell.user_ns
        if job in self.pending:
            self.pending.remove(job)
        return _report_pull(job)

    @magic_arguments()
    @argument("job", help="the job's id or name")
    @line_magic
    def cancel(self, line: str) -> None:
        """Cancel a job: a queued one never runs, a running one is stopped."""
        job = _get(_parse(self.cancel, line).job)
        if job.cancel(via="%cancel"):
            print(f"cancelled job {job.id} ({job.name})")
        else:
            print(f"job {job.id} ({job.name}) had already ended: {job.status.value}")

    @magic_arguments()
    @argument("what", nargs="?", choices=["backend", "notify"], help="what to set")
    @argument("name", nargs="?", help=f"the backend: {known_names()}; for notify: on or off")
    @argument("-w", "--workers", type=int, help="number of workers")
    @argument("--url", help="Redis URL, for the Redis backends")
    @argument("--path", help="folder of the backend's files (JOBNB_HOME)")
    @line_magic
    def jobnb(self, line: str) -> None:
        """Show the settings in force, or choose the backend: %jobnb backend thread;
        %jobnb notify on: a desktop notification when each job submitted from here ends."""
        args = _parse(self.jobnb, line)
        if args.what == "notify":
            return self._notify(args.name)
        if args.what and not args.name:
            raise UsageError("%jobnb backend needs a name, e.g. %jobnb backend subprocess")
        options = {"workers": args.workers, "redis_url": args.url, "home": args.path}
        options = {k: v for k, v in options.items() if v is not None}
        try:
            settings = (
                api.configure(args.name, **options) if (args.name or options) else api.settings()
            )
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        notifying = ", notify on" if settings.notify else ""
        print(f"jobnb: backend {settings.backend}, {settings.workers} workers{notifying}")

    def _notify(self, switch: str | None) -> None:
        """%jobnb notify on|off (the widget of the first job then asks the browser's
        permission; nothing shown here, which a restarted kernel would leave dangling)."""
        if switch not in ("on", "off"):
            raise UsageError(f"%jobnb notify takes on or off, not {switch!r}")
        api.configure(notify=switch == "on")
        said = {
            "on": "a desktop notification when each job submitted from here ends",
            "off": "no notification, unless a job asks for one (--notify)",
        }
        print(f"jobnb: notify {switch}: {said[switch]}")


def _parse(magic: Any, line: str, shown_as: str | None = None) -> Any:
    """Read a magic's options, one way for every magic: split as a shell does (quotes
    group words and go away: -n "two words" is the name two words; IPython's own split
    keeps them), then its argparse parser. A bad option is a UsageError that names it
    and shows the usage."""
    try:
        return magic.parser.parse_args(shlex.split(line))
    except ValueError as exc:  # shlex: an unbalanced quote
        problem = f'{exc} in {line!r} (quote as in a shell: -n "two words")'
        raise _usage_error(magic, problem, shown_as) from None
    except UsageError as exc:  # argparse, through IPython's MagicArgumentParser
        raise _usage_error(magic, str(exc), shown_as) from None


def _usage_error(magic: Any, problem: str, shown_as: str | None) -> UsageError:
    shown_as = shown_as or f"%{magic.parser.prog}"
    usage = " ".join(magic.parser.format_usage().replace("::", "").split())
    usage = usage.replace(f"%{magic.parser.prog} ", f"{shown_as} ", 1)
    return UsageError(f"{shown_as}: {problem}\nusage: {usage}\nSee `{shown_as}?` for every option.")


def _leading_options(
    line: str, options: tuple[arguments.Option, ...] = arguments.CELL_JOB
) -> tuple[str, str]:
    """``%submit [options] call(...)`` cut in two: its options (as written, quotes and
    all) and its call, kept intact (a split into words would break f(a, b="c d")).

    The options are the words from the start that begin with a dash, each with the next
    word when it takes a value; words are read as a shell reads them, so a value may be
    quoted. What they mean is left to the parser (``_parse``): an unknown option, or an
    unbalanced quote, is its error."""
    takes_value = {flag: opt.takes_value for opt in options for flag in opt.flags if flag[0] == "-"}
    words = shlex.shlex(line, posix=True)
    words.whitespace_split = True
    words.commenters = ""
    end = 0  # where the options read so far end
    while line[end:].lstrip().startswith("-"):
        try:
            if _needs_value(words.get_token(), takes_value):
                words.get_token()
        except ValueError:  # an unbalanced quote: the parser says so
            return line, ""
        end = words.instream.tell()
    return line[:end], line[end:].strip()


def _needs_value(word: str, takes_value: dict[str, bool]) -> bool:
    """Whether the option ``word`` takes the next word as its value."""
    if "=" in word:
        return False  # --name=x
    if word in takes_value:
        return takes_value[word]
    if not word.startswith("--"):
        return False  # -nx (the value attached) or an unknown option
    matches = [flag for flag in takes_value if flag.startswith(word)]
    return len(matches) == 1 and takes_value[matches[0]]  # an abbreviation argparse takes


def _python_source(cell: str, shell: Any) -> str:
    """The cell as plain Python, or a UsageError that says why it cannot run in a job."""
    try:
        ast.parse(cell)
        return cell
    except SyntaxError as plain_error:
        try:
            ast.parse(shell.transform_cell(cell))
        except SyntaxError:
            line = plain_error.lineno
            raise UsageError(
                f"the cell has a syntax error at line {line}: {plain_error.msg}"
            ) from None
        text = (plain_error.text or "").strip()
        raise UsageError(
            f"line {plain_error.lineno} ({text!r}) is IPython syntax (a %magic or a !command), "
            "which a job cannot run. Use plain Python in a %%submit cell (subprocess.run "
            "for shell commands), or run that line in a cell of its own."
        ) from None


def _submitter(name: str | None, args: Any) -> api.Submitter:
    notify = True if getattr(args, "notify", False) else None  # (None: as configured)
    try:
        return api.options(
            name=name,
            timeout=args.timeout,
            queue=args.queue,
            backend=args.backend,
            retries=args.retries,
            retry_delay=args.retry_delay,
            notify=notify,
            after=arguments.after_of(args.after),
        )
    except (ConfigError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _get(key: str) -> Job:
    try:
        return api.get(key)
    except JobNotFound as exc:
        raise UsageError(str(exc)) from None


def _report_pull(job: Job) -> list[str]:
    """Pull an ended cell job into the notebook and say so in one line."""
    status = job.status
    if status is not JobStatus.FINISHED:
        summary = last_line(job.error)
        print(
            f"jobnb: job {job.id} ({job.name}) {status.value}: {summary}  "
            "(its traceback: job.error, or %job " + job.id + ")"
        )
        return []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pulled = job.pull()
    for warning in caught:
        print(f"jobnb: {warning.message}", file=sys.stderr)
    names = ", ".join(pulled) if pulled else "nothing"
    print(f"jobnb: job {job.id} ({job.name}) finished; pulled {names}")
    return pulled


def load_ipython_extension(shell: Any) -> None:
    magics = JobMagics(shell)
    shell.register_magics(magics)
    register_display(shell)
    shell.events.register("pre_run_cell", magics.pull_finished)
    shell._jobnb_magics = magics  # for unload and for tests


def unload_ipython_extension(shell: Any) -> None:
    magics = getattr(shell, "_jobnb_magics", None)
    if magics is not None:
        shell.events.unregister("pre_run_cell", magics.pull_finished)
        del shell._jobnb_magics
