"""Prints a result store's statistics in a canonical text form (unit key pair + every statistic
as a float hex string), so stores from different runs can be compared bit for bit with diff."""
import sys
import h5py

f = h5py.File(sys.argv[1], "r")
names = [n.decode() if isinstance(n, bytes) else n for n in f["results/stat_names"][()]]
ids = f["results/unit_id"][()]
stats = f["results/stats"][()]
ka = f["units/key_a"][()]
kb = f["units/key_b"][()]
ha = f["results/hash_a"][()]
hb = f["results/hash_b"][()]
print("status", f.attrs["status"], "units", len(f["units/id"][()]), "done", len(ids))
# Units never computed because their expert is judged at its match (compare's step after the pass).
if "units/superseded_ids" in f:
    print("superseded", " ".join(str(int(u)) for u in f["units/superseded_ids"][()]))
for row, uid in enumerate(ids):
    vals = " ".join(float(x).hex() for x in stats[row])
    print(uid, ka[uid].decode(), kb[uid].decode(), ha[row], hb[row], vals)
# Neuron matchings (MLP units): the sampled neurons and their matches, per unit.
if "neurons" in f:
    nid = f["neurons/unit_id"][()]
    count = f["neurons/count"][()]
    sampled = f["neurons/suspect"][()]
    matched = f["neurons/other"][()]
    at = 0
    for uid, n in zip(nid, count):
        n = int(n)
        pairs = " ".join("%d:%d" % (s, o) for s, o in zip(sampled[at:at + n], matched[at:at + n]))
        print("neurons", uid, pairs)
        at += n
