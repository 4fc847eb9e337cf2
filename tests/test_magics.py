"""The magics, driven through IPython's InteractiveShell (the notebook tests in
test_notebooks.py run the same on a real kernel)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import jobnb


@pytest.fixture
def shell(backend):
    sh = InteractiveShell.instance()
    sh.reset(new_session=False)
    if not hasattr(sh, "_jobnb_magics"):
        sh.run_line_magic("load_ext", "jobnb")
    sh._jobnb_magics.pending.clear()
    return sh


def run(sh, source):
    """Run a cell as a notebook would; return its result (raises nothing)."""
    return sh.run_cell(source, store_history=True)


def error_of(result):
    return result.error_in_exec or result.error_before_exec


def test_submit_returns_the_job_and_its_variables_arrive_before_the_next_cell(shell, capsys):
    run(shell, "x = 12")
    result = run(
        shell,
        "%%submit -n square\nimport math\ny = x ** 2\nprint('computing', y)\nroot = math.sqrt(y)",
    )
    job = result.result
    assert isinstance(job, jobnb.Job)
    assert shell.user_ns["_"] is job
    assert job.name == "square"
    job.wait(30)
    assert "y" not in shell.user_ns  # nothing arrives in the middle of a cell
    run(shell, "print('sees', y, root, math.pi > 3)")
    out = capsys.readouterr().out
    assert f"jobnb: job {job.id} (square) finished; pulled math, y, root" in out
    assert "sees 144 12.0 True" in out
    assert "computing" not in out  # the job's prints are in its log
    assert job.logs() == "computing 144\n"


def test_a_failing_cell_reports_and_assigns_nothing(shell, capsys):
    job = run(shell, "%%submit -n broken\na = 1\nb = a / 0").result
    job.wait(30)
    run(shell, "print('b' in dir(), 'a' in dir())")
    out = capsys.readouterr().out
    assert f"jobnb: job {job.id} (broken) failed: ZeroDivisionError: division by zero" in out
    assert "False False" in out
    assert "b = a / 0" in job.error


def test_no_pull_leaves_the_namespace_until_pull(shell, capsys):
    job = run(shell, "%%submit --no-pull -n later\nlate = 'here'").result
    job.wait(30)
    run(shell, "pass")
    assert "late" not in shell.user_ns
    result = run(shell, f"%pull {job.id}")
    assert result.result == ["late"]
    assert shell.user_ns["late"] == "here"


def test_notebook_functions_and_modules_travel(shell):
    run(shell, "import statistics\nfactor = 3\ndef helper(v):\n    return v * factor")
    job = run(shell, "%%submit\nr = helper(2)\nm = statistics.mean([1, 2, 3])").result
    assert job.result(timeout=30) == {"r": 6, "m": 2}


def test_an_unknown_name_fails_in_the_job_with_a_clear_name_error(shell):
    job = run(shell, "%%submit\nq = undefined_thing + 1").result
    job.wait(30)
    assert "NameError: name 'undefined_thing' is not defined" in job.error


def test_an_unpicklable_input_is_named_at_submit(shell, backend):
    run(shell, "import threading\nlk = threading.Lock()")
    result = run(shell, "%%submit\nheld = lk.locked()")
    if backend == "thread":  # shares the kernel's objects: anything goes
        assert result.result.result(timeout=30) == {"held": False}
        return
    error = error_of(result)
    assert isinstance(error, UsageError)
    assert "variable `lk` (_thread.lock" in str(error)
    assert "add -b thread" in str(error)
    assert jobnb.jobs() == []


def test_ipython_syntax_is_refused_at_submit(shell):
    error = error_of(run(shell, "%%submit\nx = 1\n%time y = 2"))
    assert isinstance(error, UsageError)
    assert "line 2 ('%time y = 2') is IPython syntax" in str(error)
    error = error_of(run(shell, "%%submit\nfiles = !ls"))
    assert "is IPython syntax" in str(error)
    error = error_of(run(shell, "%%submit\nx = = 1"))
    assert "the cell has a syntax error at line 1" in str(error)
    assert jobnb.jobs() == []


def test_bad_options_are_usage_errors(shell):
    for line, message in [
        ("%%submit -b celery\nx = 1", "unknown backend 'celery'"),
        ("%%submit -t soon\nx = 1", "invalid float value: 'soon'"),
        ("%%submit -t -5\nx = 1", "timeout must be a positive number"),
        ("%%submit --bogus\nx = 1", "unrecognized arguments: --bogus"),
        ("%submit", "%submit needs a call"),
        ("%submit x", "%submit needs a call, like train(lr=0.1), not 'x'"),
        ("%job nothing-here", "no job has the id or name 'nothing-here'"),
        ("%jobs -s done", "unknown status 'done'"),
        ("%jobnb backend celery", "unknown backend 'celery'"),
    ]:
        error = error_of(run(shell, line))
        assert isinstance(error, UsageError), line
        assert message in str(error), (line, str(error))


def test_submit_a_call_expression(shell):
    run(shell, "def scale(v, by=1):\n    return v * by\nvals = [1, 2]\nopts = {'by': 10}")
    job = run(shell, "j = %submit -n scaled scale(*vals[:1], **opts)\nj").result
    assert job.name == "scaled"
    assert job.result(timeout=30) == 10


def test_jobs_job_and_cancel(shell, capsys, tmp_path):
    release = tmp_path / "release"
    run(shell, f"import os, time\nrelease = {str(release)!r}")
    job = run(
        shell,
        "%%submit -n waiting\nprint('waiting')\nwhile not os.path.exists(release):"
        "\n    time.sleep(0.01)",
    ).result
    run(shell, "%jobs -l")
    out = capsys.readouterr().out
    assert job.id in out and "waiting" in out
    run(shell, "%job waiting")
    out = capsys.readouterr().out
    assert f"<Job {job.id} 'waiting'" in out
    assert "while not os.path.exists(release)" in out
    run(shell, "%cancel waiting")
    assert f"cancelled job {job.id} (waiting)" in capsys.readouterr().out
    job.wait(10)
    assert job.status is jobnb.JobStatus.CANCELLED
    run(shell, "pass")
    assert "cancelled" in capsys.readouterr().out


def test_every_magic_has_help(shell):
    doc = shell.find_cell_magic("submit").__doc__
    for option in ("-n NAME", "-b BACKEND", "-t TIMEOUT", "-q QUEUE", "--no-pull"):
        assert option in doc
    for name in ("submit", "jobs", "job", "pull", "cancel", "jobnb"):
        assert shell.find_line_magic(name).__doc__.strip(), name


def test_jobnb_magic_configures(shell, capsys):
    run(shell, "%jobnb backend thread -w 3")
    assert "jobnb: backend thread, 3 workers" in capsys.readouterr().out
    assert jobnb.settings().backend == "thread"


@pytest.fixture
def shell_on_thread():
    """The magics on the thread backend: for what does not depend on the backend (how a
    magic reads its line)."""
    jobnb.configure("thread")
    sh = InteractiveShell.instance()
    sh.reset(new_session=False)
    if not hasattr(sh, "_jobnb_magics"):
        sh.run_line_magic("load_ext", "jobnb")
    sh._jobnb_magics.pending.clear()
    return sh


def test_options_are_quoted_as_in_a_shell_and_the_quotes_go_away(shell_on_thread):
    sh = shell_on_thread
    for line, name in [
        ('%%submit -n "two words"', "two words"),
        ("%%submit -n 'say \"hi\" now' -t 30", 'say "hi" now'),
        ('%%submit --name="it\'s done"', "it's done"),
        (r"%%submit -n it\'s", "it's"),
    ]:
        job = run(sh, f"{line}\nx = 1").result
        assert isinstance(job, jobnb.Job), (line, error_of(run(sh, f"{line}\nx = 1")))
        assert job.name == name, line
        job.wait(30)
    run(sh, "def echo(*words):\n    return words")
    job = run(sh, "j = %submit -n \"a call\" -t 30 echo('a  b', \"c 'd'\")\nj").result
    assert job.name == "a call"
    assert job.result(timeout=30) == ("a  b", "c 'd'")
    job = run(sh, "j = %submit --name='x y' echo(1)\nj").result
    assert (job.name, job.result(timeout=30)) == ("x y", (1,))
    # the other magics read a quoted job name the same way
    assert run(sh, '%job "a call"').error_in_exec is None
    assert run(sh, "%pull 'two words'").result == ["x"]


def test_a_bad_option_names_itself_and_shows_the_usage(shell_on_thread):
    sh = shell_on_thread
    for line, message, usage in [
        ("%%submit --bogus\nx = 1", "unrecognized arguments: --bogus", "%%submit [-n NAME]"),
        ("%%submit -t soon\nx = 1", "argument -t/--timeout: invalid float value: 'soon'", "-t"),
        ('%%submit -n "two\nx = 1', "No closing quotation", "%%submit [-n NAME]"),
        ("%submit --bogus f(1)", "unrecognized arguments: --bogus", "%submit [-n NAME]"),
        ("%submit -n", "argument -n/--name: expected one argument", "%submit [-n NAME]"),
        ("%submit_notebook x.ipynb --bogus", "unrecognized arguments: --bogus", "[-p NAME=VALUE]"),
        ("%submit_notebook x.ipynb -t", "expected one argument", "%submit_notebook [-p"),
        ("%submit_notebook", "the following arguments are required: notebook", "notebook"),
        ("%jobs -n many", "argument -n/--limit: invalid int value: 'many'", "%jobs [-l]"),
        ("%job", "the following arguments are required: job", "%job job"),
    ]:
        error = error_of(run(sh, line))
        assert isinstance(error, UsageError), line
        text = str(error)
        assert message in text, (line, text)
        assert "usage: " in text and usage in text, (line, text)
        assert "?` for every option" in text, (line, text)
    assert jobnb.jobs() == []


def test_every_magic_shows_its_help_with_a_question_mark(shell_on_thread, capsys):
    sh = shell_on_thread
    magics = sh.magics_manager.registry["JobMagics"].magics
    names = sorted(set(magics["line"]) | set(magics["cell"]))
    assert {"submit", "submit_notebook", "jobs", "job", "pull", "cancel", "jobnb"} <= set(names)
    for name in names:
        capsys.readouterr()
        run(sh, f"%{name}?")
        shown = capsys.readouterr().out
        assert f"%{name} " in shown, (name, shown)
        assert "options:" in shown or "positional arguments:" in shown, (name, shown)
