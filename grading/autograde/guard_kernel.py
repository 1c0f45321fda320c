"""Code the grader runs INSIDE the student's kernel (sent as text; never imported by the grader).

`install(token, course_root)` runs before any student code: it imports the libraries tests use and
snapshots every reference a test relies on. `guard(nonce)` runs before and after each test cell: it
puts every changed reference back and prints one JSON line naming what had been changed, tagged
with a nonce the student's code has never seen. The grader, outside the sandbox, treats a missing or
malformed line as tampering. This is defence in depth, not the security boundary (see GRADING.md).
"""


def install(token, course_root, workdir, stage=""):
    import builtins
    import json
    import linecache
    import os
    import math
    import operator
    import sys
    import types

    shell = get_ipython()  # noqa: F821 - exists inside IPython
    if stage and os.path.isdir(stage):   # the submission's files into the (sized) work folder
        import shutil
        shutil.copytree(stage, os.getcwd(), dirs_exist_ok=True)
    sys.path.insert(0, course_root)
    modules = {"builtins": builtins, "math": math, "operator": operator}
    for name in ("torch", "torch.testing", "torch.nn.functional", "numpy", "numpy.testing",
                 "grading", "grading.checks", "grading.plain", "grading.student", "minigrad"):
        try:
            modules[name] = __import__(name, fromlist=["_"])
        except Exception:  # noqa: BLE001 - a course without that module
            pass
    sys.path.remove(course_root)
    for name, mod in list(sys.modules.items()):
        if name.startswith("minigrad.") and mod is not None:
            modules[name] = mod
    classes = []
    if "torch" in modules:
        classes.append(modules["torch"].Tensor)
        classes.append(modules["torch"].nn.Module)
    classes += [c for c in type(shell).__mro__ if c is not object]
    classes += [c for c in type(shell.kernel).__mro__ if c is not object]
    classes += [type(sys.stdout), type(shell.displayhook)]
    sys_keys = ("excepthook", "displayhook", "stdout", "stderr", "stdin", "__stdout__", "__stderr__",
                "settrace", "gettrace", "setprofile", "getprofile", "exit", "modules", "meta_path",
                "path_hooks", "audit", "_getframe", "breakpointhook")
    snap = {
        "modules": {n: (m, dict(vars(m))) for n, m in modules.items()},
        "classes": [(c, dict(vars(c))) for c in classes],
        "sys": {k: getattr(sys, k) for k in sys_keys if hasattr(sys, k)},
        "meta_path": list(sys.meta_path),
        "path_hooks": list(sys.path_hooks),
        "shell_dict": set(vars(shell)),
        "kernel_dict": set(vars(shell.kernel)),
        "shell_handlers": dict(shell.kernel.shell_handlers),
        "control_handlers": dict(getattr(shell.kernel, "control_handlers", {})),
        "transformers": [list(shell.input_transformers_cleanup), list(shell.input_transformers_post),
                         list(shell.ast_transformers)],
        "stream_dicts": {id(s): set(vars(s)) for s in (sys.stdout, sys.stderr)},
        "course_names": {},
    }
    audit_log = []
    home = os.path.expanduser("~")
    writable = (workdir, "/tmp", "/dev/", home)
    secret_words = ("/solutions", "gradebook", "/autograded", "/submitted", "/feedback", "/results")
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    process_events = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                      "os.forkpty", "pty.spawn"}
    network_events = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
                      "socket.gethostbyname", "socket.gethostbyaddr", "urllib.Request"}
    path_events = {"open", "os.listdir", "os.scandir", "glob.glob", "os.remove", "os.rename", "os.rmdir",
                   "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.symlink", "os.link", "shutil.rmtree",
                   "shutil.copyfile", "shutil.move"}
    watched = process_events | network_events | path_events | {"sys.addaudithook"}

    def audit(event, args):
        if event not in watched or len(audit_log) > 20:
            return
        if event in process_events:
            audit_log.append(f"started a process ({event})")
        elif event in network_events:
            audit_log.append(f"tried to use the network ({event})")
        elif event == "sys.addaudithook":
            audit_log.append("added an audit hook")
        else:
            path = args[0] if args else None
            if isinstance(path, bytes):
                path = path.decode("utf-8", "replace")
            if not isinstance(path, str):
                return
            full = os.path.abspath(path)
            if any(word in full for word in secret_words):
                audit_log.append(f"looked for grading files ({event} {full})")
                return
            writing = event not in ("open", "os.listdir", "os.scandir", "glob.glob")
            if event == "open":
                mode = args[1] if len(args) > 1 else "r"
                flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(flags & write_flags)
            if writing and not full.startswith(writable):
                audit_log.append(f"tried to write outside its folder ({event} {full})")

    sys.addaudithook(audit)
    snap["custom_exc"] = (shell.custom_exceptions, getattr(shell, "CustomTB", None))
    # ipykernel swaps these per request (stdin forwarding); rebinding them gains nothing
    ignore_builtins = {"_", "__", "___", "input", "raw_input", "getpass"}

    def same(a, b):
        # torch wraps some of its own functions when a submodule loads lazily (torch._dynamo rebinds
        # torch.manual_seed to a functools.wraps wrapper of it): that is torch, not the student
        torch_wrap = getattr(a, "__wrapped__", None) is b and str(getattr(a, "__module__", "")).startswith("torch")
        return a is b or torch_wrap or (isinstance(a, types.MethodType) and a == b)

    all_, map_, is_ = all, map, operator.is_   # bound now: the student may rebind the builtins and operator

    def untouched(live, saved):
        # the common case, checked at C speed: every saved name still bound to the very same object
        return all_(map_(is_, map_(live.get, saved), saved.values()))

    def restore_dict(owner, saved, label, public_only, fixes):
        live = vars(owner)
        if untouched(live, saved):
            return
        for key, value in saved.items():
            if public_only and key.startswith("_"):
                continue
            if label == "builtins" and key in ignore_builtins:
                continue
            if key not in live or not same(live[key], value):
                fixes.append(f"{label}.{key}")
                try:
                    setattr(owner, key, value)
                except (AttributeError, TypeError):
                    pass

    def guard(nonce, phase):
        fixes = []
        if sys.gettrace() is not None or sys.getprofile() is not None:
            fixes.append("sys.settrace/setprofile hook")
        sys.settrace(None)
        sys.setprofile(None)
        import threading
        threading.settrace(None)
        threading.setprofile(None)
        for key, value in snap["sys"].items():
            if not same(getattr(sys, key, None), value):
                fixes.append(f"sys.{key}")
                setattr(sys, key, value)
        if sys.meta_path != snap["meta_path"]:
            fixes.append("sys.meta_path (import hooks)")
            sys.meta_path[:] = snap["meta_path"]
        if sys.path_hooks != snap["path_hooks"]:
            fixes.append("sys.path_hooks")
            sys.path_hooks[:] = snap["path_hooks"]
        for stream in (sys.stdout, sys.stderr):
            for key in set(vars(stream)) - snap["stream_dicts"].get(id(stream), set()):
                if not callable(vars(stream)[key]):
                    continue
                fixes.append(f"sys.{'stdout' if stream is sys.stdout else 'stderr'}.{key}")
                delattr(stream, key)
        for name, (mod, saved) in snap["modules"].items():
            if sys.modules.get(name) is not mod and name != "builtins":
                fixes.append(f"sys.modules[{name!r}]")
                sys.modules[name] = mod
            restore_dict(mod, saved, name, name not in ("builtins", "math", "operator"), fixes)
        for cls, saved in snap["classes"]:
            live = vars(cls)
            if untouched(live, saved):
                continue
            for key, value in saved.items():
                if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                    if not same(live.get(key), value):
                        fixes.append(f"{cls.__name__}.{key}")
                        try:
                            setattr(cls, key, value)
                        except (AttributeError, TypeError):
                            pass
        for obj, saved_keys, label in ((shell, snap["shell_dict"], "shell"),
                                       (shell.kernel, snap["kernel_dict"], "kernel")):
            for key in set(vars(obj)) - saved_keys:
                if callable(getattr(type(obj), key, None)) or callable(vars(obj)[key]):
                    fixes.append(f"{label}.{key}")
                    delattr(obj, key)
        for handlers, saved, label in ((shell.kernel.shell_handlers, snap["shell_handlers"], "shell_handlers"),
                                       (getattr(shell.kernel, "control_handlers", {}), snap["control_handlers"],
                                        "control_handlers")):
            if handlers != saved:
                fixes.append(label)
                handlers.clear()
                handlers.update(saved)
        saved_exc, saved_tb = snap["custom_exc"]
        if shell.custom_exceptions != saved_exc or not same(getattr(shell, "CustomTB", None), saved_tb):
            fixes.append("IPython custom exception handler")
            shell.custom_exceptions, shell.CustomTB = saved_exc, saved_tb
        for live, saved, label in zip((shell.input_transformers_cleanup, shell.input_transformers_post,
                                       shell.ast_transformers), snap["transformers"],
                                      ("input_transformers_cleanup", "input_transformers_post", "ast_transformers")):
            if list(live) != saved:
                fixes.append(label)
                live[:] = saved
        ns = shell.user_ns
        for name, value in snap["course_names"].items():
            if not same(ns.get(name), value):
                fixes.append(f"course name {name!r}")
                ns[name] = value
        seen = list(audit_log)
        audit_log.clear()
        if phase == "after":
            for key in [k for k in linecache.cache if "ipykernel" in k or k.startswith("<ipython")]:
                linecache.cache.pop(key, None)
        sys.stdout.write(json.dumps({"guard": nonce, "fixes": sorted(set(fixes)), "audit": seen}) + "\n")
        sys.stdout.flush()

    def before_course():
        snap["ns_before"] = {name: id(value) for name, value in shell.user_ns.items()}

    def mark_course():
        """Remember the modules and functions a course cell just bound, to restore them before tests."""
        before = snap.pop("ns_before", {})
        for name, value in shell.user_ns.items():
            if name.startswith("_") or name in ("In", "Out", "get_ipython", "exit", "quit"):
                continue
            if before.get(name) == id(value):
                continue   # bound earlier (possibly by the student): not this course cell's
            if isinstance(value, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
                snap["course_names"][name] = value

    serve = modules.get("grading.student") and modules["grading.student"].serve

    def agent(request, nonce):
        """Answer one request of the grader's Student (plain data, framed by a nonce on stdout)."""
        reply = serve(request, shell.user_ns) if serve else '{"unsendable": "the grader agent is missing"}'
        sys.stdout.flush()
        sys.stdout.write("\n" + nonce + "<" + reply + ">" + nonce + "\n")
        sys.stdout.flush()

    box = types.ModuleType(token)
    box.guard, box.before_course, box.mark_course, box.agent = guard, before_course, mark_course, agent
    sys.modules[token] = box
