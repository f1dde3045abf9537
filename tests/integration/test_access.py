"""Access to an engine: its segment /dev/shm/looprig-<uid>-<name> is a
regular file of mode 0600 owned by the engine's uid; a process of another
uid can neither find it by name (the name contains the uid: uid 65534 looks
for /dev/shm/looprig-65534-<name> and is told no engine runs) nor open it by
its path (permission denied, through open(2), shm_open(3) and, with the
segment hard-linked where that uid's client looks, through
lr_client_attach / looprig.attach: LR_ATTACH_PERMISSION / AttachError); an
engine of another uid started with the same --name (on its own jackd) runs
beside the first without disturbing it. Throughout, the first engine's loop
is captured through JACK and compared with the model sample by sample.

The other uid is 65534 (nobody), reached with setgroups/setgid/setuid in a
preexec_fn; it runs /usr/bin/python3, the looprig package, liblooprig-shm
and looprigd copied to a world-readable temp folder (LOOPRIG_LIB points the
package at the copy). Without root these tests are skipped.
"""
import json
import os
import stat

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=2, slot_outs=True)
CAPTURE_SLOTS = [0]
CH0 = (2, 3)

needs_root = pytest.mark.skipif(not H.can_switch_uid(),
                                reason="needs root (CAP_SETUID/CAP_SETGID) to run a client and an engine as uid 65534")


def seg_path(uid, name):
    return f"/dev/shm/looprig-{uid}-{name}"


def proc_ids(pid):
    """(real uid, real gid) of a process, from /proc."""
    uid = gid = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                uid = int(line.split()[1])
            elif line.startswith("Gid:"):
                gid = int(line.split()[1])
    return uid, gid


@pytest.fixture(scope="module")
def sandbox():
    if not H.can_switch_uid():
        pytest.skip("needs root (CAP_SETUID/CAP_SETGID) to run processes as uid 65534")
    sb = H.UserSandbox()
    yield sb
    sb.close()


@pytest.fixture
def playing(rig, capture, tmp_path):
    """Slot 0 plays a stereo loop; the capture runs; afterwards the whole
    window is compared with the model."""
    L = 1931
    x = H.noise(L, seed=800, amp=0.4, channels=2)
    assert rig.load(0, H.write_wav_float(tmp_path / "loop.wav", x)).frames == L
    capture.arm(30)
    T = rig.ping() + 4800
    assert rig.play(0, at=T) == T
    capture.wait_until(T + 2 * L)
    state = {"T": T, "L": L}
    yield state
    end = rig.ping() + 2 * L
    rec = capture.take(until=end)
    n = H.check_model(rec, [H.SlotModel(x).play(T)], T - 2000, end, {0: CH0},
                      what=state.get("what", "access test"))
    print(f"survived: the engine's loop sample-exact on {n} of {end - T + 2000} frames")
    assert n > 0.5 * (end - T)
    m = rig.meters()
    assert m.state_name(0) == "playing" and int(m.length[0]) == L
    rig.stop(0)


def test_segment_mode_and_owner(engine, rig):
    """The segment is a regular file, mode 0600, owner and group those of
    the engine process; its name carries the engine's uid."""
    epid = engine.proc.pid
    uid, gid = proc_ids(epid)
    p = seg_path(uid, engine.name)
    st = os.stat(p)
    print(f"{p}: mode {stat.filemode(st.st_mode)} uid {st.st_uid} gid {st.st_gid}; engine pid {epid} uid {uid}")
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, gid)
    assert rig.segment_name == f"/looprig-{uid}-{engine.name}"
    assert rig.engine_pid == epid
    assert any(f"segment {p}" in l for l in engine.stdout_lines), engine.stdout_lines


WORKER_NO_ACCESS = r'''
import ctypes, errno, json, os, sys
import looprig
from looprig._ffi import ffi, get_lib

name, root_seg = sys.argv[1], sys.argv[2]
out = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}
lib = get_lib()
buf = ffi.new("char[]", 256)
n = lib.lr_segment_name(name.encode(), buf, 256)
out["segment_name"] = ffi.string(buf).decode() if n > 0 else None

# by name, through the package and through the C ABI
try:
    r = looprig.attach(name=name)
    out["attach"] = {"attached": True, "engine_pid": r.engine_pid}
    r.close()
except Exception as e:
    out["attach"] = {"exc": type(e).__name__, "message": str(e), "code": getattr(e, "code", None)}
pp = ffi.new("lr_client **")
err = ffi.new("char[]", 512)
rc = lib.lr_client_attach(name.encode(), pp, err, 512)
out["c_attach"] = {"rc": rc, "message": ffi.string(err).decode(errors="replace")}
if rc >= 0:
    lib.lr_client_detach(pp[0])

# by the root-owned segment's path
out["open"] = {}
for mode, flag in (("rdwr", os.O_RDWR), ("rdonly", os.O_RDONLY)):
    try:
        fd = os.open(root_seg, flag)
        os.close(fd)
        out["open"][mode] = "opened"
    except OSError as e:
        out["open"][mode] = errno.errorcode.get(e.errno, str(e.errno))
rt = ctypes.CDLL(None, use_errno=True)
rt.shm_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
out["shm_open"] = {}
for mode, flag in (("rdwr", os.O_RDWR), ("rdonly", os.O_RDONLY)):
    fd = rt.shm_open(("/" + os.path.basename(root_seg)).encode(), flag, 0)
    if fd >= 0:
        os.close(fd)
        out["shm_open"][mode] = "opened"
    else:
        out["shm_open"][mode] = errno.errorcode.get(ctypes.get_errno(), "?")
print(json.dumps(out))
'''


@needs_root
def test_other_uid_cannot_attach(engine, rig, playing, sandbox):
    """uid 65534: by name it looks for /dev/shm/looprig-65534-<name> and gets
    EngineNotRunning / LR_ATTACH_NO_ENGINE naming that path; open(2) and
    shm_open(3) of the root engine's segment, read-write or read-only, give
    EACCES. Then the segment is hard-linked as /dev/shm/looprig-65534-<name>
    (same inode, still root's, 0600): attach by name now reaches the segment
    and is refused with AttachError code LR_ATTACH_PERMISSION (-5) /
    'permission denied'. The engine's loop plays on sample-exact and the
    engine still answers its own clients."""
    playing["what"] = "while uid 65534 tried to attach"
    name = engine.name
    root_seg = seg_path(os.getuid(), name)
    lib = H.import_looprig()._ffi.get_lib()
    res, _ = sandbox.run_python(WORKER_NO_ACCESS, None, (name, root_seg))
    print(json.dumps(res, indent=1))
    assert res["uid"] == H.NOBODY_UID and res["gid"] == H.NOBODY_GID and res["groups"] == []
    assert res["segment_name"] == f"/looprig-{H.NOBODY_UID}-{name}"
    a = res["attach"]
    assert a.get("exc") == "EngineNotRunning", a
    assert f"looprig-{H.NOBODY_UID}-{name}" in a["message"] and "no looprig engine" in a["message"], a
    assert res["c_attach"]["rc"] == lib.LR_ATTACH_NO_ENGINE, res["c_attach"]
    assert res["open"] == {"rdwr": "EACCES", "rdonly": "EACCES"}, res["open"]
    assert res["shm_open"] == {"rdwr": "EACCES", "rdonly": "EACCES"}, res["shm_open"]

    link = seg_path(H.NOBODY_UID, name)
    assert not os.path.exists(link)
    os.link(root_seg, link)
    try:
        assert os.stat(link).st_ino == os.stat(root_seg).st_ino
        res2, _ = sandbox.run_python(WORKER_NO_ACCESS, None, (name, root_seg))
    finally:
        os.unlink(link)
    print(json.dumps(res2, indent=1))
    a = res2["attach"]
    assert a.get("exc") == "AttachError" and a["code"] == lib.LR_ATTACH_PERMISSION, a
    assert "permission denied" in a["message"].lower() and link in a["message"], a
    assert res2["c_attach"]["rc"] == lib.LR_ATTACH_PERMISSION, res2["c_attach"]
    assert "permission denied" in res2["c_attach"]["message"].lower(), res2["c_attach"]
    # the engine: still serving its own user, no client place taken by the attempts
    assert rig.ping() > 0
    st = os.stat(root_seg)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    with H.import_looprig().attach(name=name) as r2:
        assert r2.engine_pid == engine.proc.pid


WORKER_OWN_ENGINE = r'''
import json, os, sys
import looprig
name, wav = sys.argv[1], sys.argv[2]
with looprig.attach(name=name) as r:
    out = {"uid": os.getuid(), "segment_name": r.segment_name, "engine_pid": r.engine_pid,
           "ping": r.ping()}
    res = r.load(0, wav)
    out["frames"] = res.frames
    r.play(0)
    m = r.meters()
    out["slot_count"] = len(m.length)
    out["state0"] = m.state_name(0)
    r.stop(0)
print(json.dumps(out))
'''


@needs_root
def test_second_engine_other_uid_same_name(engine, rig, playing, sandbox):
    """An engine of uid 65534 with the SAME --name, on its own jackd (also
    uid 65534), started with umask 000: it comes up, its segment is
    /dev/shm/looprig-65534-<name>, 0600, owned by 65534; a uid-65534 client
    attaching by that name reaches it (its pid, its 3 slots) and loads and
    plays there. Meanwhile root's engine keeps its segment (same inode, mode,
    owner), answers, and its loop plays on sample-exact; after the second
    engine exits (status 0, its segment removed) root's segment is still
    there and a new root client still reaches root's engine."""
    playing["what"] = "while a uid-65534 engine of the same name ran"
    name = engine.name
    root_seg = seg_path(os.getuid(), name)
    st0 = os.stat(root_seg)
    H.write_wav_float(sandbox.files / "other.wav", H.noise(1234, 801, amp=0.3))
    os.chmod(sandbox.files / "other.wav", 0o644)
    srv = other = None
    try:
        srv = H.UserJackServer(sandbox).start()
        old = os.umask(0)
        try:
            other = H.UserEngine(srv, slots=3, name=name).start()
        finally:
            os.umask(old)
        print("\n".join(other.stdout_lines))
        ost = os.stat(other.segment_path)
        assert stat.S_IMODE(ost.st_mode) == 0o600 and ost.st_uid == H.NOBODY_UID, (oct(ost.st_mode), ost.st_uid)
        assert any(f"segment {other.segment_path}" in l for l in other.stdout_lines), other.stdout_lines
        res, _ = sandbox.run_python(WORKER_OWN_ENGINE, srv.name, (name, sandbox.files / "other.wav"))
        print(json.dumps(res))
        assert res["uid"] == H.NOBODY_UID
        assert res["segment_name"] == f"/looprig-{H.NOBODY_UID}-{name}"
        assert res["engine_pid"] == other.proc.pid != engine.proc.pid
        assert res["frames"] == 1234 and res["slot_count"] == 3 and res["state0"] == "playing"
        # root's engine is untouched
        st1 = os.stat(root_seg)
        assert (st1.st_ino, st1.st_uid, st1.st_mode, st1.st_size) == (st0.st_ino, st0.st_uid, st0.st_mode,
                                                                       st0.st_size)
        assert rig.ping() > 0 and rig.engine_pid == engine.proc.pid
        assert len(rig.meters().length) == 2
        assert other.stop(check=True) == 0
        other = None
        assert not os.path.exists(seg_path(H.NOBODY_UID, name))
    finally:
        if other is not None:
            other.stop(check=False)
        if srv is not None:
            srv.stop()
    assert os.stat(root_seg).st_ino == st0.st_ino
    with H.import_looprig().attach(name=name) as r2:
        assert r2.engine_pid == engine.proc.pid and r2.ping() > 0
    assert engine.alive()


WORKER_SQUAT = r'''
import json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copyfile(src, dst)
os.chmod(dst, 0o666)
st = os.stat(dst)
print(json.dumps({"uid": st.st_uid, "mode": st.st_mode & 0o777}))
'''


def squat(sandbox, engine, name2):
    """As uid 65534, create /dev/shm/looprig-<our uid>-<name2>, mode 0666,
    holding a copy of the real segment (valid magic, ABI, layout and the
    pid of a live looprigd: our engine)."""
    src = sandbox.dir / f"segcopy-{name2}.bin"
    src.write_bytes(open(seg_path(os.getuid(), engine.name), "rb").read())
    os.chmod(src, 0o644)
    dst = seg_path(os.getuid(), name2)
    res, _ = sandbox.run_python(WORKER_SQUAT, None, (src, dst))
    assert res == {"uid": H.NOBODY_UID, "mode": 0o666}, res
    return dst


@needs_root
def test_client_refuses_segment_owned_by_another_user(engine, sandbox):
    """uid 65534 plants a look-alike segment under our name space: attaching
    to it must fail (AttachError), not talk to a segment another user can
    read and write."""
    lr = H.import_looprig()
    name2 = H.unique_name("squat")
    dst = squat(sandbox, engine, name2)
    try:
        try:
            r = lr.attach(name=name2)
        except lr.AttachError as e:
            print(f"refused: {e}")
            return
        except lr.EngineNotRunning as e:
            print(f"refused: {e}")
            return
        pid = r.engine_pid
        r.close()
        pytest.fail(f"attached to {dst}, owned by uid {os.stat(dst).st_uid}, mode "
                    f"{stat.filemode(os.stat(dst).st_mode)} (claims engine pid {pid})")
    finally:
        os.unlink(dst)


@needs_root
def test_engine_start_not_blocked_by_segment_of_another_user(engine, jack_server, sandbox):
    """uid 65534 plants a look-alike segment (0666) where our engine of name
    N will put its own; starting the engine N must give a segment owned by
    us, mode 0600 — or at least not a false 'already running'."""
    name2 = H.unique_name("squat")
    dst = squat(sandbox, engine, name2)
    e2 = H.Engine(jack_server, slots=1, name=name2)
    try:
        try:
            e2.start(timeout=3)
        except RuntimeError as ex:
            pytest.fail(f"engine did not start while uid 65534 squatted its segment: {e2.stderr().strip()}"
                        f" (exit status {e2.proc.poll()})")
        st = os.stat(dst)
        print(f"started; {dst}: uid {st.st_uid} mode {stat.filemode(st.st_mode)}")
        assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o600
    finally:
        e2.stop(check=False)
        for f in (dst, e2.stderr_path):
            try:
                os.unlink(f)
            except OSError:
                pass
