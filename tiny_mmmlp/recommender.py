"""The Python API: a trained run as a recommender that speaks raw item and user ids.

    import tiny_mmmlp
    rec = tiny_mmmlp.load("runs/toyshop-tiny")          # a run folder written by training
    rec.recommend(["u1", "u7"], k=5)                     # [["i17", "i3", ...], [...]]
    rec.recommend_frame(users="all", k=10)               # a DataFrame: user_id, rank, item_id, score
    rec.user_history("u1")                               # ["i4", "i9", ...], oldest first
    rec.recommend_history(["i4", "i9"], k=5)             # needs only the run's model file
    rec.evaluate()                                       # the test metrics, as in metrics.json
    rec.evaluate(k=[5, 50], split="time", cutoff=0.8)    # more metrics, another split (held_out.py)
    rec.metrics, rec.history, rec.plot_curves()          # the run's results (run_results.py)

The model file (model_file.py) carries the weights, the feature tables and the raw item ids,
so scoring a history of raw item ids needs no data folder. What names users (``recommend``,
``user_history``, ``evaluate``) reads the data the run was trained on, or the ``data`` given,
matched to the model's items by raw id (item_map.py). A model file names its data by path
only for built-in and Amazon sources (a model is shared without the trainer's paths); other
data is given as ``data``. Errors raise ``UserError`` whose text is the one sentence the
command line prints.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import data as data_sets
from . import held_out as splits
from .backends import score_rows
from .errors import UserError, brief
from .item_map import in_model_order
from .metrics import mask_history as masked
from .metrics import target_ranks
from .model_file import SavedModel, read_model
from .progress import bar
from .ranking import evaluate as evaluate_ranks
from .run_config import check_value, shown
from .run_results import RunResults

SCORE_BATCH = 256           # histories scored at once (fewer on a large catalogue: backends.score_rows)
EVAL_BATCH = 512            # users ranked at once by evaluate (likewise)


def top_items(scores: np.ndarray, k: int) -> list:
    """The best ``k`` (item index, score) pairs of each row of ``scores`` (B, V + 1), best first;
    an item scored -inf (the padding row, an excluded history item) is never returned.

    Ties go to the lower index, as a stable sort of the whole row would order them; only the
    candidates at or above the row's k-th score are sorted (``np.argpartition``: O(V) a row,
    not O(V log V)).
    """
    scores = np.atleast_2d(scores)
    floor = _floor(scores, k)                                                 # (B,) <= each k-th best
    out = []
    for row, low in zip(scores, floor):
        k_row = min(k, row.size)
        pool = np.flatnonzero(row >= low) if np.isfinite(low) else np.arange(row.size)   # (>= k,)
        kth = np.partition(row[pool], pool.size - k_row)[pool.size - k_row]   # the k-th best score
        cand = pool[row[pool] >= kth]                                         # (>= k,) indices
        best = cand[np.argsort(-row[cand], kind="stable")[:k_row]]
        out.append([(int(i), float(row[i])) for i in best if np.isfinite(row[i])])
    return out


def _floor(scores, k):
    """(B,) a score at or below each row's k-th best, cheaply: the k-th best of the rows' block
    maxima (k distinct items reach it), with blocks of about √V items. On a 1M-item catalogue
    only the few items above it are partitioned, several times faster than the whole row."""
    B, V = scores.shape
    width = max(1, int(np.sqrt(V)))
    if V // width < k or V < 4096:                    # small rows: partition them whole
        return np.full(B, -np.inf)
    blocks = scores[:, :V - V % width].reshape(B, V // width, width).max(axis=2)   # (B, V // width)
    return np.partition(blocks, blocks.shape[1] - k, axis=1)[:, blocks.shape[1] - k]


class DataNotFound(UserError):
    """The data a run was trained on is not where the model file says it was, or the model
    file names it without a path. ``core``: the sentence without the advice, which the
    command line gives as its own flag."""

    def __init__(self, core: str):
        super().__init__(f"{core}; give it where it is now as data= (tiny_mmmlp.load(run, data=...))")
        self.core = core


def load(run, data=None, user_col: str = "user_id", item_col: str = "item_id", time_col=None) -> "Recommender":
    """The trained model of ``run`` (a run folder, or its model.safetensors).

    data: the run's data (a folder, a file, a built-in name, or a pandas DataFrame with
    user_id and item_id columns); by default the built-in or Amazon source the model file
    names, read only when needed. Data given as a path is not saved in the model file.
    user_col, item_col, time_col: a DataFrame's columns, as ``tiny_mmmlp.fit`` takes them.
    """
    if not isinstance(run, (str, os.PathLike)) or isinstance(run, bytes):
        raise UserError(f"run: must be a run folder or model file (a path), got {shown(run)}")
    run = Path(run)
    if data is not None and not isinstance(data, (str, Path)):
        from .data.interactions_table import frame_folder
        from .frames import is_frame, not_data
        if not is_frame(data):
            raise not_data(data)
        data = frame_folder(data, user_col, item_col, time_col)
    return Recommender(read_model(run), run, data)


def _ids(value, what: str) -> list:
    """One raw id (a text) or a list of them, as a list; anything else (a number, bytes, a
    mapping) is refused in one sentence instead of iterated."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (bytes, bytearray, dict)) or not hasattr(value, "__iter__"):
        raise UserError(f"{what}: must be an id (text) or a list of ids, got {shown(value)}")
    value = list(value)
    wrong = [v for v in value if not isinstance(v, str)]
    if wrong:
        raise UserError(f"{what}: each id must be a text, got {shown(wrong[0])}")
    return value


def _is_path(source: str) -> bool:
    """Whether a data source names a path (not a built-in set, not an Amazon category)."""
    from .data.amazon_source import parse_source
    return source not in data_sets.BUILT_IN and parse_source(source) is None


def _never_fetch(where: str, run) -> None:
    """A model file names its data; one received from someone else must not start a download
    by itself, so an Amazon source that is not in this machine's cache is refused."""
    from .data.amazon_source import is_ready, parse_source
    if parse_source(where) is not None and not is_ready(where):
        raise DataNotFound(f"data {where}: not in this machine's cache, and the model in {run} does not fetch "
                           f"data by itself; fetch it first (python -m tiny_mmmlp.data describe {where} --fetch)")


class _Ranker:
    """The backend surface ``evaluate.evaluate`` ranks with, over a recommender's scores."""

    def __init__(self, scores):
        self.scores = scores

    def ranks(self, item_seq, targets, history=None):
        scores = self.scores(item_seq)
        if history is not None:
            scores = masked(scores, history, targets)
        return target_ranks(scores, targets)


class Recommender(RunResults):
    """A trained run: top-k raw item ids for users or histories, its test metrics and results."""

    def __init__(self, saved: SavedModel, run, data=None):
        self.saved, self.run = saved, Path(run)
        self._data, self._datasets, self._scorer, self._user_rows = data, {}, None, None
        self._index = {raw: i + 1 for i, raw in enumerate(saved.item_ids)}

    # ---- what the model is -------------------------------------------------------------
    @property
    def item_ids(self) -> list:
        """Raw item ids in model order (internal item i is ``item_ids[i - 1]``)."""
        return list(self.saved.item_ids)

    @property
    def meta(self) -> dict:
        return self.saved.meta

    @property
    def config(self):
        return self.saved.config

    @property
    def model_name(self) -> str:
        return self.meta.get("model", "mmmlp")

    def __repr__(self) -> str:
        return (f"Recommender({str(self.run)!r}, model={self.model_name}, items={len(self._index)}, "
                f"modalities={','.join(self.meta['modalities'])})")

    # ---- the data --------------------------------------------------------------------------
    def data_source(self, data=None) -> str:
        """Where ``data`` (default: the run's own data) is read from; a saved relative path
        is tried from here, then from the run folder."""
        if data is not None:
            return str(data)
        if self._data is not None:
            return str(self._data)
        where = str(self.meta.get("data") or "")
        if not where or (_is_path(where) and not Path(where).is_absolute()):    # a name, not a path
            name = where or self.meta.get("data_name") or "of unknown name"
            raise DataNotFound(f"the model in {self.run} was trained on the data {name}, whose path "
                               f"is not kept in the model")
        if _is_path(where) and not Path(where).expanduser().exists():            # an older model file
            beside = self.run.parent if self.run.is_file() else self.run
            if not Path(where).is_absolute() and (beside / where).exists():
                return str(beside / where)
            raise DataNotFound(f"data {where}: not found; the model in {self.run} was trained "
                               f"on the data expected there")
        return where

    def dataset(self, data=None):
        """The Dataset of ``data`` (default: the run's own) in the model's item order."""
        where = self.data_source(data)
        if where not in self._datasets:
            if data is None and self._data is None:
                _never_fetch(where, self.run)
            ds = data_sets.load(where, progress=False)
            self._datasets[where] = in_model_order(ds, self.saved.item_ids, where)
        return self._datasets[where]

    @property
    def users(self) -> list:
        """Raw user ids of the run's data, in its order."""
        return list(self.dataset().user_ids)

    def user_history(self, user) -> list:
        """The raw item ids of ``user``'s whole sequence in the run's data, oldest first."""
        if not isinstance(user, str):
            raise UserError(f"user: must be a user id (text), got {shown(user)}")
        ds = self.dataset()
        if self._user_rows is None:
            self._user_rows = {u: n for n, u in enumerate(ds.user_ids)}
        row = self._user_rows.get(str(user))
        if row is None:
            raise UserError(f"user {user}: no such user in the data {ds.name}")
        return [self.saved.item_ids[i - 1] for i in ds.sequences[row]]

    # ---- scoring ---------------------------------------------------------------------------
    def scorer(self):
        """The model with its trained weights: ``scores(item_seq (B, N)) -> (B, V + 1)``
        (NumPy for MMMLP; torch, on the CPU, for a baseline)."""
        if self._scorer is None:
            from .baselines import MODELS, TrainedScorer
            from .preflight import check_memory
            from .reference import MMMLP
            saved, cfg, name = self.saved, self.config, self.model_name
            n_items = len(saved.item_ids)
            if name not in MODELS:
                raise UserError(f"{saved.path}: the model file names no known model "
                                f"({name!r}; one of {', '.join(MODELS)})")
            check_memory(cfg, n_items, [f.shape[1] for f in saved.features.values()],
                         batch_size=1, eval_batch=1)
            if name != "mmmlp":
                try:
                    self._scorer = TrainedScorer(name, cfg, n_items, saved.features, saved.params,
                                                 self.meta.get("encoder"))
                except ImportError:
                    raise UserError(f"{saved.path}: a {name} model, which needs PyTorch "
                                    "(pip install torch)") from None
                except Exception as err:  # noqa: BLE001 - whatever an edited shape raises
                    raise UserError(f"{saved.path}: the model file does not fit {name} ({brief(err)})") from None
            else:
                model = MMMLP(cfg, n_items, saved.features)
                for k, v in model.params.items():
                    v[...] = saved.params[k]          # names and shapes checked by read_model
                self._scorer = model
        return self._scorer

    def _scores(self, item_seq) -> np.ndarray:
        scores = np.asarray(self.scorer().scores(item_seq))            # (B, V + 1), a new array
        scores[:, 0] = -np.inf
        return scores

    def _internal(self, items) -> np.ndarray:
        items = _ids(items, "items")
        unknown = [i for i in items if i not in self._index]
        if unknown or not items:
            what = f"unknown item id(s) {', '.join(unknown[:3])}" if unknown else "no item given"
            raise UserError(f"items: {what} (the model knows {len(self._index)} items)")
        return np.array([self._index[i] for i in items], dtype=np.int64)

    def top_k(self, histories, k: int = 10, exclude_history: bool = False, progress: bool = False) -> list:
        """For each history (raw item ids, oldest first): the best ``k`` (raw item id, score)
        pairs, best first; fewer when the catalogue, less any excluded history, is smaller.
        progress: a bar over the histories (progress.py's rule)."""
        check_value("k", int(k) if isinstance(k, np.integer) else k, "positive")
        check_value("exclude_history", exclude_history, "bool")
        if isinstance(histories, (str, bytes, bytearray, dict)) or not hasattr(histories, "__iter__"):
            raise UserError(f"histories: must be a list of histories (lists of item ids), got {shown(histories)}")
        internal = [self._internal(h) for h in histories]
        rows, out = score_rows(len(self._index), SCORE_BATCH), []
        for lo in bar(range(0, len(internal), rows), desc="recommending", unit="batch", enabled=progress):
            batch = internal[lo:lo + rows]
            scores = self._scores(data_sets.pad_histories(batch, self.config.max_len))
            if not np.isfinite(scores[:, 1:]).all():
                raise UserError("the model's scores are NaN or inf; the model file is damaged "
                                "or training diverged")
            if exclude_history:
                for row, history in zip(scores, batch):
                    row[history] = -np.inf
            out.extend([(self.saved.item_ids[i - 1], s) for i, s in top]
                       for top in top_items(scores, int(k)))
        return out

    def recommend(self, users, k: int = 10, exclude_history: bool = False) -> list:
        """The top ``k`` raw item ids for each raw user id (a list of them, or one id) of the
        run's data, best first: one list per user."""
        users = _ids(users, "users")
        scored = self.top_k([self.user_history(u) for u in users], k, exclude_history)
        return [[item for item, _ in recs] for recs in scored]

    def recommend_frame(self, users="all", k: int = 10, exclude_history: bool = False, split=None,
                        cutoff=None):
        """The top ``k`` of each user ("all": every user of the run's data; or a list of raw
        user ids) as a pandas DataFrame with the CSV export's columns user_id, rank (from 1),
        item_id and score, best first.

        split: None recommends after each user's whole history; "leave-one-out" after the
        history less its held-out last item, and "time" (with ``cutoff``) after the items
        before the cutoff, for the users that split tests: the lists ``evaluate_frame`` scores
        fairly, since the held-out items were not part of what the model read.
        """
        from .frames import recommendations_frame
        if split is None:
            if cutoff is not None:
                raise UserError("cutoff: goes with split='time'")
            chosen = self.users if isinstance(users, str) and users == "all" else \
                [users] if isinstance(users, str) else [str(u) for u in users]
            rows = [(u, self.user_history(u)) for u in chosen]
        else:
            splits.check_split(split, cutoff)
            ds = self.dataset()
            rows_of, histories, _ = splits.test_histories(ds, split, cutoff)
            wanted = None if isinstance(users, str) and users == "all" else \
                {users} if isinstance(users, str) else {str(u) for u in users}
            rows = [(ds.user_ids[u], [self.saved.item_ids[i - 1] for i in h])
                    for u, h in zip(rows_of, histories) if wanted is None or ds.user_ids[u] in wanted]
        scored = self.top_k([h for _, h in rows], k, exclude_history) if rows else []
        return recommendations_frame([(u, recs) for (u, _), recs in zip(rows, scored)])

    def recommend_history(self, items, k: int = 10, exclude_history: bool = False) -> list:
        """The top ``k`` raw item ids after a history of raw item ids (oldest first); needs
        only the model file."""
        return [item for item, _ in self.top_k([items], k, exclude_history)[0]]

    # ---- evaluation ------------------------------------------------------------------------
    def held_out(self, data=None, split: str = "leave-one-out", cutoff=None) -> dict:
        """{raw user id: set of raw item ids} each tested user has held out under the split."""
        splits.check_split(split, cutoff)
        return splits.held_out(self.dataset(data), split, cutoff)

    def evaluate_frame(self, recs, k=(10, 20), data=None, split: str = "leave-one-out", cutoff=None) -> dict:
        """HR, NDCG, MRR, Precision, Recall and MAP at each k, and Coverage@k, of a DataFrame of
        recommendations (columns user_id, item_id, rank) against the held-out items of the
        split (a tested user without recommendations counts as a miss). Make the lists with
        ``recommend_frame(split=...)``: the same split, so the held-out items were not read."""
        from .frames import frame_rows
        splits.check_split(split, cutoff)
        return splits.score_lists(frame_rows(recs), self.dataset(data), splits.ks_of(k), split, cutoff)

    def evaluate(self, data=None, mask_history=None, k=None, split: str = "leave-one-out",
                 cutoff=None, progress: bool = False) -> dict:
        """HR/NDCG/MRR@10,20 on the test split (leave-one-out, full ranking) of ``data``
        (default: the run's own data, which gives metrics.json's "test" figures).

        mask_history: rank without each user's history items (the target kept); default:
        the protocol the run was trained with. progress: a bar over the users.
        k, split, cutoff: any list of k (e.g. [5, 50]), or the time split at ``cutoff`` (a
        date or a fraction of the interactions): HR, NDCG, MRR, Precision, Recall, MAP and
        Coverage at each k (held_out.py; the leave-one-out HR, NDCG and MRR are the same).
        """
        splits.check_split(split, cutoff)
        if mask_history is not None:
            check_value("mask_history", mask_history, "bool")
        ds = self.dataset(data)
        mask = bool(self.meta.get("mask_history", False) if mask_history is None else mask_history)
        if k is not None or split != "leave-one-out":
            return splits.score_model(self._scores, ds, self.config.max_len, splits.ks_of(k),
                                          split, cutoff, mask)
        split = data_sets.split_leave_one_out(ds)
        if len(split.test_target) == 0:
            raise UserError(f"data {self.data_source(data)}: no user has 3 or more items, so "
                            f"no user can be tested (leave-one-out needs 3 per user)")
        return evaluate_ranks(_Ranker(self._scores), split.test_history, split.test_target,
                              self.config.max_len, score_rows(len(self._index), EVAL_BATCH),
                              mask_history=mask, progress=progress)
