"""RunConfig: every setting of a training run, resolved once, frozen, saved whole.

    cfg = RunConfig.resolve({"data": "toyshop-tiny", "epochs": 2})      # keyword settings
    cfg.model_config(["id", "text"])                                     # the MMMLPConfig it trains
    save_config(run_folder, cfg); load_config(run_folder / "config.json")

Each field below is one setting: its default, the help group it belongs to and its help
text (the command line's flags are built from these, ``run_flags.py``). ``resolve`` fills the
defaults that depend on other settings (each model's sizes and learning rate, the moving
average's warm-up, label smoothing with sampled negatives, the backend a baseline runs on),
checks every value, and refuses a setting that the chosen model would ignore. Errors name a
setting the way its caller gave it: ``--d-model`` on the command line, ``d_model`` in Python.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .backends import BACKENDS
from .baselines import MODEL_DEFAULTS, MODELS
from .data import image_encoders
from .data import text as text_features
from .data.amazon_source import MAX_DOWNLOAD_MB
from .data.load import BUILT_IN
from .errors import UserError
from .model_config import ABSENT_MEANS, DEFAULT_EMA, DEFAULT_EMA_WARMUP, MMMLPConfig, dropout_for, field_help
from .progress import VERBOSE_HELP
from .values import CHECKS, check_value, shown  # noqa: F401 - the one check of every setting's value

FORMAT = 1                      # of config.json; a file of another format is refused
CONFIG_FILE = "config.json"
SCHEDULES = ("constant", "cosine")
GROUPS = ("data", "model", "training", "evaluation", "run folder")
PER_MODEL = ("max_len", "d_model", "dropout", "lr", "encoder_layers", "heads", "history_pool", "pool_features")
# settings a --resume may change (every other one must match the run's)
FREE_ON_RESUME = ("out", "resume", "overwrite", "no_progress", "epochs", "patience", "device",
                  "eval_batch_size", "verbose")
_ABOUT = field_help()           # MMMLPConfig's own description of each model field
# above this many items training defaults to a sampled softmax over SAMPLED_NEGATIVES items: the full
# softmax's cost and memory grow with the catalogue (docs/results.md, "Cost in catalogue and log size")
SAMPLED_ABOVE, SAMPLED_NEGATIVES = 100_000, 256


def _s(default, group, help, check=None, choices=None):
    return field(default=default, metadata={"group": group, "help": help, "check": check,
                                            "choices": choices})


@dataclass(frozen=True)
class RunConfig:
    """The settings of one training run (defaults: None where resolve fills them)."""

    # data
    data: str = _s("toyshop", "data", "toyshop, toyshop-tiny, amazon2018:<Category>, amazon2023:<Category>, "
                   "a folder of RecBole atomic files, or a sequence file", "text")
    modalities: str = _s("all", "data", "comma-separated branches to use, e.g. id,text,image, or 'all' "
                         "(every one the data has)", "text")
    pictures: bool = _s(False, "data", "Amazon sources: also fetch one picture per item (once, into the cache)",
                        "bool")
    max_download_mb: int = _s(MAX_DOWNLOAD_MB, "data", "Amazon sources: refuse a raw file larger than this "
                              "many MB", "positive")
    image_encoder: str = _s(image_encoders.DEFAULT, "data", image_encoders.HELP, "text")
    text_encoder: str = _s(text_features.DEFAULT, "data", text_features.HELP, "text")
    # model
    model: str = _s("mmmlp", "model", "mmmlp, or a baseline: sasrec (Kang & McAuley 2018) or gru4rec "
                    "(Hidasi et al. 2016), which run on the torch backend and read feature modalities "
                    "through MMMLP's feature mixer branches", "text", MODELS)
    max_len: int | None = _s(None, "model", _ABOUT["max_len"], "positive")
    d_model: int | None = _s(None, "model", _ABOUT["d_model"], "positive")
    token_hidden: int = _s(MMMLPConfig.token_hidden, "model", _ABOUT["token_hidden"], "positive")
    channel_hidden: int = _s(MMMLPConfig.channel_hidden, "model", _ABOUT["channel_hidden"], "positive")
    n_layers: int = _s(MMMLPConfig.n_layers, "model", _ABOUT["n_layers"], "non_negative")
    fusion_layers: int = _s(MMMLPConfig.fusion_layers, "model", _ABOUT["fusion_layers"] + " (mmmlp only)",
                            "non_negative")
    fusion_dim: int = _s(MMMLPConfig.fusion_dim, "model", _ABOUT["fusion_dim"] + " (mmmlp only)", "non_negative")
    dropout: float | None = _s(None, "model", _ABOUT["dropout"].split(" (")[0], "rate")
    label_smoothing: float | None = _s(None, "model", "ε of the full-softmax loss (0.2; 0 with negatives, "
                                       "which it cannot be combined with)", "rate")
    negatives: int | None = _s(None, "model", _ABOUT["negatives"] + f"; default 0 (the full softmax) up to "
                               f"{SAMPLED_ABOVE:,} items, {SAMPLED_NEGATIVES} above", "non_negative")
    candidate_features: bool = _s(True, "model", "also score candidates with a projection of their features",
                                  "bool")
    history_bias: bool = _s(True, "model", "learn one score offset for items already in the user's history",
                            "bool")
    history_pool: bool | None = _s(None, "model", "add a learned weighted sum of the history items' embeddings "
                                   "to the query (default: on for mmmlp; the baselines have none)", "bool")
    pool_features: bool | None = _s(None, "model", "the history pool also sums the history items' projected "
                                    "features, their whole candidate vectors (default: on for mmmlp; the "
                                    "baselines have no pool)", "bool")
    encoder_layers: int | None = _s(None, "model", "baselines: attention blocks or GRU layers", "positive")
    heads: int | None = _s(None, "model", "sasrec: attention heads", "positive")
    # training
    backend: str | None = _s(None, "training", "numpy (the reference, CPU), torch (CPU or GPU) or triton "
                             "(the fused kernels, CUDA GPU); default numpy for mmmlp, torch for the "
                             "baselines", "text", BACKENDS)
    device: str | None = _s(None, "training", "cpu or cuda[:i] (torch and triton backends)", "text")
    epochs: int = _s(100, "training", "most epochs to train; patience stops sooner", "positive")
    patience: int = _s(3, "training", "stop after this many epochs without a better validation NDCG@10",
                       "positive")
    batch_size: int = _s(256, "training", "training sequences per step", "positive")
    lr: float | None = _s(None, "training", "AdamW learning rate", "finite_positive")
    weight_decay: float = _s(0.0, "training", "AdamW's decoupled weight decay", "finite_non_negative")
    ema: float = _s(DEFAULT_EMA, "training", "evaluate, keep and save an exponential moving average of the "
                    "weights with this decay per step (0: off)", "ema")
    ema_warmup: int | None = _s(None, "training", "K: the average's decay at step t is min(decay, (1 + t) / "
                                f"(K + t)) ({DEFAULT_EMA_WARMUP} with an average, 0: the plain decay)",
                                "ema_warmup")
    seed: int = _s(0, "training", "seed of the initial weights, the batch order and dropout", "seed")
    item_dropout: float = _s(0.0, "training", "delete each item of a training history but the last with this "
                             "probability, anew each epoch (a view of the history; 0: off)", "rate")
    schedule: str = _s("constant", "training", "learning rate after the warm-up: constant, or cosine decay "
                       "to 0 at the last epoch", "text", SCHEDULES)
    warmup_epochs: float = _s(0.0, "training", "linear learning-rate warm-up over this many epochs",
                              "finite_non_negative")
    # evaluation
    eval_batch_size: int | None = _s(None, "evaluation", "users ranked at once (memory: this times the item "
                                     "count; default: the batch size)", "positive")
    mask_history: bool = _s(False, "evaluation", "rank without the user's history items (the target stays "
                            "rankable); default: nothing masked", "bool")
    # run folder
    out: str | None = _s(None, "run folder", "run folder (default: runs/<data>-<modalities>-<model or "
                         "backend>)", "text")
    resume: bool = _s(False, "run folder", "continue the run in the run folder (same settings)", "bool")
    overwrite: bool = _s(False, "run folder", "replace the run that the run folder holds", "bool")
    no_progress: bool = _s(False, "run folder", "no progress bars", "bool")
    verbose: int = _s(1, "run folder", VERBOSE_HELP, "verbosity")

    @classmethod
    def absent_means(cls, key: str):
        """What a run saved before the setting ``key`` existed trained with: its ABSENT_MEANS
        value, else its default (a setting that only adds a choice)."""
        return ABSENT_MEANS.get(key, next(f.default for f in fields(cls) if f.name == key))

    @classmethod
    def resolve(cls, given: dict, flags: bool = False) -> "RunConfig":
        """The run configuration of the settings ``given`` (the rest at their defaults), checked.
        ``flags``: name settings as command-line flags in errors (else as keywords)."""
        name = flag_name if flags else (lambda key: key)
        known = {f.name: f for f in fields(cls)}
        for key, value in given.items():
            if key not in known:
                raise UserError(f"unknown setting {shown(key)}; the settings are {', '.join(known)}")
            if value is not None or known[key].default is not None:   # None: "fill it" where that is the default
                check_value(name(key), value, known[key].metadata["check"], known[key].metadata["choices"])
        cfg = replace(cls(), **given)
        return _fill(cfg, set(k for k, v in given.items() if v is not None), name)

    def model_config(self, modalities: list) -> MMMLPConfig:
        """The model's MMMLPConfig for the chosen modalities (after resolve)."""
        return MMMLPConfig(max_len=self.max_len, d_model=self.d_model, token_hidden=self.token_hidden,
                           channel_hidden=self.channel_hidden, n_layers=self.n_layers,
                           fusion_layers=self.fusion_layers, fusion_dim=self.fusion_dim,
                           dropout=MMMLPConfig.dropout if self.dropout is None else self.dropout,  # None: for_data's
                           label_smoothing=self.label_smoothing, negatives=self.negatives or 0,
                           candidate_features=self.candidate_features, history_bias=self.history_bias,
                           history_pool=self.history_pool, pool_features=self.pool_features,
                           id_branch="id" in modalities)

    def for_data(self, n_items: int, n_examples: int) -> "RunConfig":
        """The settings for a catalogue of ``n_items`` and ``n_examples`` training examples, once
        the data is read: ``negatives`` not given becomes SAMPLED_NEGATIVES above SAMPLED_ABOVE
        items (label smoothing then 0), else 0, the full softmax (a label smoothing given keeps
        the full softmax); MMMLP's ``dropout`` not given follows the training set's size
        (``dropout_for``)."""
        cfg = self if self.dropout is not None else replace(self, dropout=dropout_for(n_examples))
        if cfg.negatives is not None:
            return cfg
        cfg = replace(cfg, negatives=SAMPLED_NEGATIVES if n_items > SAMPLED_ABOVE and not cfg.label_smoothing
                      else 0)
        return replace(cfg, label_smoothing=cfg.model_config(["id"]).label_smoothing)

    def encoder(self) -> dict | None:
        """A baseline's own encoder ({"layers", "heads"}); None for MMMLP."""
        return None if self.model == "mmmlp" else {"layers": self.encoder_layers, "heads": self.heads or 0}

    def to_dict(self) -> dict:
        return asdict(self)

    def eval_batch(self) -> int:
        return self.eval_batch_size or self.batch_size


def flag_name(key: str) -> str:
    return "--" + key.replace("_", "-")


def _fill(cfg: RunConfig, given: set, name) -> RunConfig:
    """Defaults that depend on other settings, and the refusals of settings that do nothing."""
    model, defaults = cfg.model, MODEL_DEFAULTS[cfg.model]
    for key in ("encoder_layers", "heads"):
        if key in given and key not in defaults:
            have = " and ".join(m for m in MODELS if key in MODEL_DEFAULTS[m])
            raise UserError(f"{name(key)}: {name('model')} {model} has none (only {have})")
    if model != "mmmlp":               # a value other than the default would change nothing
        changed = lambda k: k in given and getattr(cfg, k) != getattr(RunConfig, k)  # noqa: E731
        ignored = [k for k in ("fusion_layers", "fusion_dim") if changed(k)]
        ignored += [k for k in ("history_pool", "pool_features") if getattr(cfg, k)]  # --no-... changes nothing
        if cfg.modalities == "id":     # no feature branches to size
            ignored += [k for k in ("token_hidden", "channel_hidden", "n_layers") if changed(k)]
        if ignored:
            raise UserError(f"{', '.join(name(k) for k in ignored)}: {name('model')} {model} has no such part "
                            f"(MMMLP's fusion or history pool, or feature branches with modalities id); "
                            f"leave it out")
    if model != "mmmlp" and cfg.modalities != "all" and \
            "id" not in [m.strip() for m in cfg.modalities.split(",")]:
        raise UserError(f"{name('modalities')} {cfg.modalities}: {name('model')} {model} always reads "
                        f"item IDs, so the list must include id")
    backend = cfg.backend or ("numpy" if model == "mmmlp" else "torch")
    data = cfg.data
    if ":" not in data and data not in BUILT_IN and Path(data).exists():
        data = str(Path(data).resolve())          # saved absolute: the run folder can move
    if model != "mmmlp" and backend != "torch":       # the one place this rule is decided
        raise UserError(f"{name('backend')} {backend}: {name('model')} {model} runs on the torch backend "
                        f"only")
    if "ema_warmup" in given and cfg.ema == 0 and cfg.ema_warmup:
        raise UserError(f"{name('ema_warmup')}: an {name('ema')} of 0 turns the average off, so there is "
                        f"no decay to warm up")
    filled = {k: defaults.get(k) for k in PER_MODEL if getattr(cfg, k) is None}   # None: the model has none
    cfg = replace(cfg, backend=backend, data=data, **filled,
                  ema_warmup=cfg.ema_warmup if cfg.ema_warmup is not None else
                  (DEFAULT_EMA_WARMUP if cfg.ema else 0))
    if cfg.warmup_epochs > cfg.epochs:
        raise UserError(f"{name('warmup_epochs')} {cfg.warmup_epochs}: longer than the run "
                        f"({name('epochs')} {cfg.epochs}); give at most that many epochs")
    if cfg.heads and cfg.d_model % cfg.heads:
        raise UserError(f"{name('heads')} {cfg.heads}: must divide {name('d_model')} {cfg.d_model}")
    try:
        mc = cfg.model_config(["id"])
    except ValueError as err:          # "MMMLPConfig.<field> must ..." -> "<setting>: must ..."
        head, _, rest = str(err).partition(" ")
        raise UserError(f"{name(head.split('.')[-1])}: {rest}") from None
    if cfg.negatives is None and "label_smoothing" not in given:
        return cfg                     # the loss waits for the catalogue's size (for_data)
    return replace(cfg, label_smoothing=mc.label_smoothing)


# a setting given anew beside a saved configuration: the saved values derived from it go too
DERIVED = {"model": (*PER_MODEL, "backend"), "ema": ("ema_warmup",), "negatives": ("label_smoothing",)}


def override(saved: dict, given: dict) -> dict:
    """A saved run's settings with ``given`` on top, less the saved values that ``given``'s
    changes would resolve differently (a new model's sizes, a new decay's warm-up)."""
    merged = dict(saved)
    for key, derived in DERIVED.items():
        if key in given and given[key] != saved.get(key):
            for d in derived:
                merged.pop(d, None)
    return {**merged, **given}


def shared_source(source: str, name: str) -> str:
    """What a run folder keeps of a data source: a built-in or Amazon source as given, other
    data by its name only (a run folder holds no path of the machine that trained it). A name
    that reads as a source itself (a folder of toyshop files) says it is not that source."""
    if source in BUILT_IN or ":" in source:
        return source
    return f"{name} (given as a path)" if name in BUILT_IN or ":" in name else name


def shared_settings(cfg: RunConfig, data_name: str | None = None) -> dict:
    """The settings as a run folder keeps them: ``shared_source`` for the data, no run folder
    path (``out``; the folder is wherever the run is now)."""
    path = Path(cfg.data)
    name = data_name or (path.name if path.is_dir() else path.stem)     # as the loaders name it
    return {**cfg.to_dict(), "data": shared_source(cfg.data, name), "out": None}


def saved_as_today(saved: dict, today: dict, data_name: str) -> dict:
    """A run folder's ``saved`` settings read as today's ``shared_settings`` keeps them: the data
    by ``shared_source`` (an older version kept its path), and each setting of ``today`` newer
    than the run at what it trained with (``RunConfig.absent_means``), or at today's value where
    it changes nothing for that run (``_inert``)."""
    newer = {k: v if _inert(k, saved) else RunConfig.absent_means(k) for k, v in today.items()}
    return {**newer, **saved, "data": shared_source(str(saved.get("data")), data_name)}


def _inert(key: str, saved: dict) -> bool:
    """Whether the setting ``key`` does nothing in the run that ``saved`` describes:
    pool_features pools no features with IDs alone, without candidate features or without the
    history pool (a run saved before the pool existed had none)."""
    if key == "pool_features":
        return (saved.get("modalities") == "id" or not saved.get("candidate_features", True)
                or not saved.get("history_pool", RunConfig.absent_means("history_pool")))
    return False


def save_config(folder: Path, cfg: RunConfig, write_text, data_name: str | None = None) -> None:
    """Write ``folder/config.json``: the resolved settings (``shared_settings``) with the format
    version. A path as data is kept as the data's name: ``--config`` then needs ``--data``."""
    write_text(Path(folder) / CONFIG_FILE, json.dumps({"format": FORMAT, "settings": shared_settings(cfg, data_name)},
                                                      indent=2) + "\n")


RUN_FOLDER_OWN = ("out", "resume", "overwrite")


def load_config(path) -> dict:
    """The settings saved in a config.json (or a run folder holding one), to resolve again; the
    run folder's own settings (out, resume, overwrite) are left out, so that a run repeated from
    it (or a configuration received from someone else) writes to a new folder of its own, never
    into the folder the file names."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    try:
        if not path.is_file():
            raise UserError(f"{path}: no such run configuration (give a run folder's config.json)")
        if path.stat().st_size > 1 << 20:
            raise UserError(f"{path}: over 1 MiB, not a run configuration")
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:     # ValueError: JSON's and
        raise UserError(f"{path}: not a readable run configuration ({type(err).__name__})") from None  # 4,300+ digits
    if not isinstance(saved, dict) or not isinstance(saved.get("settings"), dict):
        raise UserError(f"{path}: not a tiny_mmmlp run configuration")
    if saved.get("format") != FORMAT:
        raise UserError(f"{path}: run configuration format {saved.get('format')!r}, this version of "
                        f"tiny_mmmlp reads format {FORMAT}; retrain with this version, or use the "
                        f"version that wrote it")
    settings = {k: v for k, v in saved["settings"].items() if k not in RUN_FOLDER_OWN}
    return settings
