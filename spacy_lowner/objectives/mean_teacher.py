"""Mean teacher (Tarvainen & Valpola 2017) for token tagging: consistency between the tagger
(the student, with dropout) and an exponential moving average of its own weights (the
teacher, without), on unlabeled and labeled tokens.

- The teacher is an EMA of the head (hidden layer, tag scores, CRF transitions, any token
  transform), updated after every optimizer step: t = a t + (1 - a) s, a = min(1 - 1/(step + 1),
  ema_decay). It reads the same encoder output as the student, detached and without dropout.
  An EMA of the encoder too would need a second encoder pass per batch (with a shared
  transformer, a second transformer forward) and a second copy of its weights; the head-only
  teacher keeps one encoder pass, the platform's contract.
- Consistency: per token, the squared difference of the two tag distributions (CRF marginals;
  `divergence = "kl"`: KL(teacher || student)), on the tokens where the teacher's top tag has at
  least `confidence` probability; summed per doc, averaged over docs; weight ramped up as
  exp(-5 (1 - step / rampup_steps)^2).
- Prediction and saving use the teacher's weights (`predict_with = "teacher"`), so spaCy's dev
  evaluations score the teacher and model-best is the best teacher; `"student"` keeps the
  student's (on one WeiboNER split the two scored alike on dev: 27.7 and 27.6).
"""
import copy
from typing import Dict, Optional

import torch

from ..layers.losses import doc_mean, kl_divergence, squared_error
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import Fraction, NonNegativeFloat, NonNegativeInt, Probability
from .base import Objective, ObjectiveContext
from .schedules import sigmoid_ramp

DIVERGENCES = ("mse", "kl")
PREDICTORS = ("teacher", "student")


class MeanTeacherObjective(Objective):
    def __init__(
        self,
        weight: float,
        ema_decay: float,
        rampup_steps: int,
        confidence: float,
        on_labeled: bool,
        divergence: str,
        predict_with: str,
    ):
        super().__init__()
        if divergence not in DIVERGENCES:
            raise ValueError(f"mean_teacher: unknown divergence {divergence!r}; use one of {DIVERGENCES}")
        if predict_with not in PREDICTORS:
            raise ValueError(f"mean_teacher: predict_with must be one of {PREDICTORS}, got {predict_with!r}")
        if not 0 <= ema_decay < 1:
            raise ValueError(f"mean_teacher: ema_decay must be in [0, 1), got {ema_decay}")
        self.weight = weight
        self.ema_decay = ema_decay
        self.rampup_steps = rampup_steps
        self.confidence = confidence
        self.on_labeled = on_labeled
        self.divergence = divergence
        self.predict_with = predict_with
        self.student: Optional[TaggerHead] = None
        self.teacher: Optional[TaggerHead] = None

    def initialize(self, context: ObjectiveContext) -> None:
        self.student = context.head
        self.teacher = copy.deepcopy(context.head)
        self.teacher.training_modules = torch.nn.ModuleDict()  # what other objectives train
        self.teacher.eval()
        for param in self.teacher.parameters():
            param.requires_grad_(False)

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        mask = batch.mask if self.on_labeled else batch.unlabeled_tokens
        scale = self.weight * sigmoid_ramp(self.step, self.rampup_steps)
        if scale == 0 or not bool(mask.any()):
            return {}
        with torch.no_grad():
            self.teacher.eval()
            target = batch.head_pass(self.teacher, batch.features.detach()).marginals()
        selected = mask & (target.max(-1).values >= self.confidence)
        if not bool(selected.any()):
            return {}
        student = batch.marginals(head)
        per_token = squared_error(student, target) if self.divergence == "mse" else kl_divergence(target, student)
        return {"": scale * doc_mean(per_token, selected)}

    def after_step(self) -> None:
        decay = min(1.0 - 1.0 / (self.step + 1), self.ema_decay)
        with torch.no_grad():
            student = dict(self.student.named_parameters())
            for name, param in self.teacher.named_parameters():
                param.mul_(decay).add_(student[name].detach(), alpha=1.0 - decay)

    def prediction_state(self) -> Optional[Dict[str, torch.Tensor]]:
        if self.predict_with != "teacher" or self.teacher is None:
            return None
        return self.teacher.state_dict()


@lowner_objectives("spacy_lowner.mean_teacher.v1")
def make_mean_teacher(
    weight: NonNegativeFloat = 1.0,
    ema_decay: Fraction = 0.99,
    rampup_steps: NonNegativeInt = 200,
    confidence: Probability = 0.0,
    on_labeled: bool = True,
    divergence: str = "mse",
    predict_with: str = "teacher",
) -> MeanTeacherObjective:
    """Consistency with an exponential moving average of the head.

    weight: its factor in the summed loss, reached after rampup_steps.
    ema_decay: the teacher's decay (0.99 in Tarvainen & Valpola's ramp-up, 0.999 after).
    rampup_steps: steps over which the weight rises, exp(-5 (1 - t)^2).
    confidence: only tokens whose teacher's top tag has at least this probability count.
    on_labeled: the consistency also on labeled docs' tokens (as in the paper), else only
        on unlabeled ones.
    divergence: "mse" (squared difference of the distributions) or "kl" (KL(teacher || student)).
    predict_with: "teacher" (predict and save with the EMA weights) or "student".
    """
    return MeanTeacherObjective(weight, ema_decay, rampup_steps, confidence, on_labeled, divergence, predict_with)
