#!/usr/bin/python3
"""Trains attnd's built-in model "zh-en": a Chinese-to-English word aligner whose cross-attention
shows which Chinese characters each English word comes from (欢迎来北京 -> welcome to Beijing).

  models/zh-en/zh-en.safetensors   the weights in attnd's token-model format (F16)
  models/zh-en/vocab.txt           its vocabulary (Chinese characters, then English words)
  models/zh-en/heldout.json        sentences never seen in training, with their gold alignment

The corpus is generated from a small grammar (subjects, verbs with agreement and negation, places,
foods, numbers with classifiers, colours, time words; some templates reorder: 我在北京工作 -> I work
in Beijing). Chinese is tokenized as attnd does (one token per character), English by spaces and
lower-cased. The model is one embedding table and one nn.MultiheadAttention (E = 64, H = 4, no
positions): the English words are the queries, the Chinese characters keys and values. It is
trained with two losses: each English word must be predicted from its attention context alone
(a linear read-out, not exported: there is no residual path, so the context must carry the
source word), and the head-averaged attention is supervised with the grammar's alignment
(supervised attention, Liu et al., COLING 2016): -log of the weight on the word's source
characters. Heads are free to differ; the average aligns.

Deterministic: fixed seeds, one thread, deterministic algorithms. Running it twice on the same
machine writes the same bytes; another CPU or PyTorch version may round differently in training
(float32 reductions), so its file may differ in low bits while aligning just as well.

Run from anywhere (a minute or two on 2 cores):  /usr/bin/python3 models/zh-en/train.py
Needs Debian's python3-torch and python3-numpy.
"""
import json
import math
import os
import random
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261130
E, H, MAX_LEN = 64, 4, 64
N_TRAIN, N_HELDOUT, STEPS, BATCH = 30000, 300, 2500, 64

# ---- the grammar ----
# Subjects: (units, third person singular). A unit is (chinese word, english words) or
# (chinese word, None) for a word English does not translate (的, classifiers).
SUBJECTS = [
    ([("我", ["I"])], False), ([("你", ["you"])], False), ([("他", ["he"])], True),
    ([("她", ["she"])], True), ([("我们", ["we"])], False), ([("他们", ["they"])], False),
    ([("你们", ["you"])], False),
    ([("我", ["my"]), ("的", None), ("朋友", ["friend"])], True),
    ([("我", ["my"]), ("的", None), ("妈妈", ["mother"])], True),
    ([("我", ["my"]), ("的", None), ("爸爸", ["father"])], True),
    ([("他", ["his"]), ("的", None), ("老师", ["teacher"])], True),
    ([("她", ["her"]), ("的", None), ("哥哥", ["brother"])], True),
    ([("你", ["your"]), ("的", None), ("姐姐", ["sister"])], True),
    ([("我们", ["our"]), ("的", None), ("老师", ["teacher"])], True),
    ([("小明", ["Xiaoming"])], True), ([("小红", ["Xiaohong"])], True),
]
PLACES = [("北京", "Beijing"), ("上海", "Shanghai"), ("广州", "Guangzhou"),
          ("深圳", "Shenzhen"), ("天津", "Tianjin"), ("西安", "Xi'an"), ("成都", "Chengdu"),
          ("杭州", "Hangzhou"), ("南京", "Nanjing"), ("武汉", "Wuhan"), ("重庆", "Chongqing"),
          ("香港", "Hong Kong"), ("台北", "Taipei"), ("东京", "Tokyo"), ("伦敦", "London"),
          ("巴黎", "Paris"), ("纽约", "New York"), ("柏林", "Berlin"), ("中国", "China"),
          ("日本", "Japan"), ("美国", "America"), ("英国", "Britain"), ("法国", "France"),
          ("德国", "Germany"), ("学校", "school"), ("医院", "hospital")]
TIMES = [[("今天", ["today"])], [("明天", ["tomorrow"])], [("昨天", ["yesterday"])],
         [("每", ["every"]), ("天", ["day"])], [("晚上", ["tonight"])]]
FOODS = [("米饭", "rice"), ("面条", "noodles"), ("饺子", "dumplings"), ("苹果", "apples"),
         ("香蕉", "bananas"), ("面包", "bread"), ("鸡蛋", "eggs"), ("西瓜", "watermelon"),
         ("蛋糕", "cake"), ("水果", "fruit"), ("鸡肉", "chicken"), ("牛肉", "beef"),
         ("鱼", "fish"), ("包子", "buns")]
DRINKS = [("茶", "tea"), ("咖啡", "coffee"), ("水", "water"), ("牛奶", "milk"),
          ("果汁", "juice"), ("啤酒", "beer")]
# Countable things: (chinese, classifier, singular, plural).
ANIMALS = [("猫", "只", "cat", "cats"), ("狗", "只", "dog", "dogs"), ("鸟", "只", "bird", "birds"),
           ("鱼", "条", "fish", "fish"), ("马", "匹", "horse", "horses"),
           ("兔子", "只", "rabbit", "rabbits")]
ITEMS = [("书", "本", "book", "books"), ("苹果", "个", "apple", "apples"),
         ("手机", "部", "phone", "phones"), ("电脑", "台", "computer", "computers"),
         ("汽车", "辆", "car", "cars"), ("自行车", "辆", "bike", "bikes"),
         ("杯子", "个", "cup", "cups"), ("花", "朵", "flower", "flowers"),
         ("铅笔", "支", "pencil", "pencils"), ("桌子", "张", "table", "tables")]
NUMBERS = [("一", "one"), ("两", "two"), ("三", "three"), ("四", "four"), ("五", "five"),
           ("六", "six"), ("七", "seven"), ("八", "eight"), ("九", "nine"), ("十", "ten")]
COLOURS = [("红色", "red"), ("蓝色", "blue"), ("绿色", "green"), ("黑色", "black"),
           ("白色", "white"), ("黄色", "yellow")]
# Things one likes, in the plural: animals, items, foods, drinks, and a few more.
LIKEABLE = ([(a[0], a[3]) for a in ANIMALS + ITEMS] + FOODS + DRINKS +
            [("音乐", "music"), ("电影", "movies"), ("足球", "football"), ("唱歌", "singing")])
# Verbs with objects: (chinese, base, third person, objects).
OBJECT_VERBS = [("喜欢", "like", "likes", LIKEABLE), ("吃", "eat", "eats", FOODS),
                ("喝", "drink", "drinks", DRINKS), ("买", "buy", "buys", FOODS + DRINKS),
                ("看", "read", "reads", [("书", "books"), ("报纸", "newspapers")]),
                ("看", "watch", "watches", [("电影", "movies"), ("电视", "television")]),
                ("想要", "want", "wants", [(a[0], a[3]) for a in ANIMALS + ITEMS])]


def w(words):
    return words.split()


def subject(rng):
    units, s3 = rng.choice(SUBJECTS)
    return list(units), s3


def place(rng, avoid=()):
    zh, en = rng.choice([p for p in PLACES if p[0] not in avoid])
    return (zh, w(en))


def sentence(rng):
    """One sentence: (chinese units in order, english (word, unit index) in order)."""
    zh, en = [], []

    def add(unit_list):
        base = len(zh)
        zh.extend(unit_list)
        return base

    kind = rng.randrange(11)
    if kind == 0:  # 欢迎来北京 -> welcome to Beijing
        i = add([("欢迎", ["welcome"]), ("来", ["to"]), place(rng)])
        en += [("welcome", i), ("to", i + 1)] + [(x, i + 2) for x in zh[i + 2][1]]
        return zh, en
    time = rng.choice(TIMES) if rng.random() < 0.35 else None
    if time:
        t = add(time)
        en += [(x, t + j) for j, u in enumerate(time) for x in u[1]]
    subj, s3 = subject(rng)
    s = add(subj)
    en += [(x, s + j) for j, u in enumerate(subj) if u[1] for x in u[1]]

    def verb(base, third):
        return third if s3 else base

    negate = rng.random() < 0.25
    if kind in (1, 2):  # S 去/来 P -> S go/come to P
        zh_v, b, t3 = (("去", "go", "goes"), ("来", "come", "comes"))[kind - 1]
        v = add([(zh_v, None), place(rng)])
        en += [(verb(b, t3), v), ("to", v)] + [(x, v + 1) for x in zh[v + 1][1]]
    elif kind in (3, 4, 5):  # S (不) V O
        zh_v, b, t3, objs = rng.choice(OBJECT_VERBS)
        o_zh, o_en = rng.choice(objs)
        if negate:
            n = add([("不", None)])
            en += [("doesn't" if s3 else "don't", n)]
            v = add([(zh_v, None), (o_zh, None)])
            en += [(b, v)] + [(x, v + 1) for x in w(o_en)]
        else:
            v = add([(zh_v, None), (o_zh, None)])
            en += [(verb(b, t3), v)] + [(x, v + 1) for x in w(o_en)]
    elif kind == 6:  # S 有 N CL A -> S have N A
        thing = rng.choice(ANIMALS + ITEMS)
        num = rng.choice(NUMBERS)
        v = add([("有", None), (num[0], None), (thing[1], None), (thing[0], None)])
        en += [(verb("have", "has"), v), (num[1], v + 1),
               (thing[2] if num[0] == "一" else thing[3], v + 3)]
    elif kind == 7:  # S 在 P 工作/学习 -> S work/study in P (reordered)
        zh_v, b, t3 = rng.choice([("工作", "work", "works"), ("学习", "study", "studies")])
        v = add([("在", None), place(rng), (zh_v, None)])
        en += [(verb(b, t3), v + 2), ("in", v)] + [(x, v + 1) for x in zh[v + 1][1]]
    elif kind == 8:  # S 住在 P -> S live in P
        v = add([("住", None), ("在", None), place(rng)])
        en += [(verb("live", "lives"), v), ("in", v + 1)] + [(x, v + 2) for x in zh[v + 2][1]]
    elif kind == 9:  # S 从 P1 去 P2 -> S go from P1 to P2 (reordered)
        p1 = place(rng)
        p2 = place(rng, avoid=(p1[0],))
        v = add([("从", None), p1, ("去", None), p2])
        en += [(verb("go", "goes"), v + 2), ("from", v)] + [(x, v + 1) for x in p1[1]]
        en += [("to", v + 2)] + [(x, v + 3) for x in p2[1]]
    else:  # S 喜欢 C 的 A -> S like C A
        colour = rng.choice(COLOURS)
        thing = rng.choice([a for a in ANIMALS + ITEMS if a[0] not in ("鱼",)])
        v = add([("喜欢", None), (colour[0], None), ("的", None), (thing[0], None)])
        en += [(verb("like", "likes"), v), (colour[1], v + 1), (thing[3], v + 3)]
    return zh, en


def chars_of(zh):
    """Source tokens (one per character, as attnd's tokenizer splits CJK) and, for each unit,
    the indices of its characters."""
    toks, spans = [], []
    for word, _ in zh:
        spans.append(list(range(len(toks), len(toks) + len(word))))
        toks.extend(word)
    return toks, spans


def make_example(zh, en):
    src, spans = chars_of(zh)
    tgt = [x for x, _ in en]
    align = [spans[u] for _, u in en]
    return {"source": "".join(src), "target": " ".join(tgt), "src": src,
            "tgt": [x.lower() for x in tgt], "align": align}


def corpus(rng):
    seen, train, held = set(), [], []
    while len(train) < N_TRAIN:
        ex = make_example(*sentence(rng))
        train.append(ex)
        seen.add(ex["source"])
    while len(held) < N_HELDOUT:
        ex = make_example(*sentence(rng))
        if ex["source"] in seen:
            continue
        seen.add(ex["source"])
        held.append(ex)
    return train, held


# ---- the model ----

class Aligner(torch.nn.Module):
    def __init__(self, vocab_size, n_out):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, E)
        self.mha = torch.nn.MultiheadAttention(E, H)
        self.readout = torch.nn.Linear(E, n_out)  # training only

    def forward(self, tgt, src, src_pad):
        q = self.embedding(tgt)  # [Lt, B, E]
        kv = self.embedding(src)  # [Ls, B, E]
        ctx, wts = self.mha(q, kv, kv, key_padding_mask=src_pad, need_weights=True,
                            average_attn_weights=False)
        return self.readout(ctx), wts  # [Lt, B, n_out], [B, H, Lt, Ls]


def batch(examples, ids, out_ids):
    lt = max(len(e["tgt"]) for e in examples)
    ls = max(len(e["src"]) for e in examples)
    b = len(examples)
    tgt = torch.zeros(lt, b, dtype=torch.long)
    src = torch.zeros(ls, b, dtype=torch.long)
    pad = torch.ones(b, ls, dtype=torch.bool)
    label = torch.full((lt, b), -100, dtype=torch.long)
    gold = torch.zeros(b, lt, ls)
    for j, e in enumerate(examples):
        for i, t in enumerate(e["tgt"]):
            tgt[i, j] = ids[t]
            label[i, j] = out_ids[t]
            for s in e["align"][i]:
                gold[j, i, s] = 1.0
        for i, s in enumerate(e["src"]):
            src[i, j] = ids[s]
            pad[j, i] = False
    return tgt, src, pad, label, gold


def train(train_set, ids, out_ids):
    torch.manual_seed(SEED)
    model = Aligner(len(ids), len(out_ids))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = random.Random(SEED + 1)
    for step in range(STEPS):
        examples = [train_set[order.randrange(len(train_set))] for _ in range(BATCH)]
        tgt, src, pad, label, gold = batch(examples, ids, out_ids)
        logits, wts = model(tgt, src, pad)
        pred_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                      label.reshape(-1), ignore_index=-100)
        mass = (wts.mean(dim=1) * gold).sum(dim=-1)  # [B, Lt]
        real = (label.t() != -100)
        align_loss = -(torch.log(mass.clamp_min(1e-9)) * real).sum() / real.sum()
        loss = pred_loss + align_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == STEPS - 1:
            print(f"step {step}: prediction {pred_loss.item():.4f} alignment {align_loss.item():.4f}")
    return model


# ---- the file ----

def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": "F16", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def attention_f64(w, q_ids, k_ids):
    """attnd's forward in float64 from the stored weights: [H, Lq, Lk]."""
    emb = w["embedding.weight"]
    x, s = emb[q_ids], emb[k_ids]
    wi, bi = w["in_proj_weight"], w["in_proj_bias"]
    q = x @ wi[:E].T + bi[:E]
    k = s @ wi[E:2 * E].T + bi[E:2 * E]
    hd = E // H
    out = np.zeros((H, len(q_ids), len(k_ids)))
    for h in range(H):
        sc = q[:, h * hd:(h + 1) * hd] @ k[:, h * hd:(h + 1) * hd].T / math.sqrt(hd)
        sc -= sc.max(axis=-1, keepdims=True)
        p = np.exp(sc)
        out[h] = p / p.sum(axis=-1, keepdims=True)
    return out


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(SEED)
    train_set, held = corpus(rng)
    zh_chars = sorted({c for e in train_set + held for c in e["src"]})
    en_words = sorted({t for e in train_set + held for t in e["tgt"]})
    vocab = ["[PAD]", "[UNK]"] + zh_chars + en_words
    ids = {t: i for i, t in enumerate(vocab)}
    out_ids = {t: i for i, t in enumerate(en_words)}
    print(f"corpus: {len(train_set)} training sentences, {len(held)} held out; "
          f"{len(zh_chars)} Chinese characters, {len(en_words)} English words")
    model = train(train_set, ids, out_ids)

    stored = {
        "embedding.weight": model.embedding.weight,
        "in_proj_weight": model.mha.in_proj_weight,
        "in_proj_bias": model.mha.in_proj_bias,
        "out_proj.weight": model.mha.out_proj.weight,
        "out_proj.bias": model.mha.out_proj.bias,
    }
    stored = {k: v.detach().to(torch.float16) for k, v in stored.items()}
    meta = {"num_heads": str(H), "positional": "none", "lowercase": "true",
            "max_len": str(MAX_LEN), "vocab": "vocab.txt",
            "description": "zh-en word aligner trained by models/zh-en/train.py"}
    write_safetensors(os.path.join(HERE, "zh-en.safetensors"), stored, meta)
    with open(os.path.join(HERE, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")

    # Alignment on the held-out sentences, from the stored (F16) weights.
    w64 = {k: v.float().numpy().astype(np.float64) for k, v in stored.items()}
    hits = total = 0
    head_hits = [0] * H
    for e in held:
        a = attention_f64(w64, [ids[t] for t in e["tgt"]], [ids[s] for s in e["src"]])
        for i, gold in enumerate(e["align"]):
            total += 1
            hits += int(np.argmax(a.mean(axis=0)[i])) in gold
            for h in range(H):
                head_hits[h] += int(np.argmax(a[h, i])) in gold
    print(f"held-out alignment (average of heads): {hits}/{total} = {100.0 * hits / total:.1f} %")
    print("per head: " + ", ".join(f"{100.0 * x / total:.1f} %" for x in head_hits))
    doc = {"comment": "Generated by models/zh-en/train.py; do not edit. Sentences of the grammar "
                      "not in the training set; align[i] lists the source tokens (characters) "
                      "of target word i's translation.",
           "alignment_percent": round(100.0 * hits / total, 2),
           "cases": [{"source": e["source"], "target": e["target"], "align": e["align"]}
                     for e in held]}
    with open(os.path.join(HERE, "heldout.json"), "w", encoding="utf-8") as f:
        cases = doc.pop("cases")  # one case a line
        head = json.dumps(doc, ensure_ascii=False)[:-1]
        f.write(head + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()
