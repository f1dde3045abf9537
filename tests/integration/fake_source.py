"""A stand-in signal source for the harness self-test (not the engine).

Usage: fake_source.py SERVER CLIENT_NAME LENGTH SEED
Outputs on out_L the loop x[t mod LENGTH] and on out_R -x[t mod LENGTH],
where t is the absolute JACK frame time; prints 'ready' when active."""
import sys
import time

import jack
import numpy as np

server, name, L, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
x = np.random.default_rng(seed).uniform(-0.5, 0.5, L).astype(np.float32)
client = jack.Client(name, servername=server, no_start_server=True)
outL = client.outports.register("out_L")
outR = client.outports.register("out_R")
bs = client.blocksize
x2 = np.concatenate([x] * (bs // L + 2))


@client.set_process_callback
def process(frames):
    t = client.last_frame_time % L
    a = x2[t:t + frames]
    outL.get_array()[:] = a
    outR.get_array()[:] = -a


client.activate()
print("ready", flush=True)
try:
    sys.stdin.read()
finally:
    client.deactivate()
    client.close()
