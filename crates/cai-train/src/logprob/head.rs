//! The LM head's parameters as [`CausalLm::logits`] uses them, and the two GEMMs of its backward.

use burn::tensor::Tensor;
use cai_model::CausalLm;

/// The head: the tied embedding or the untied linear layer.
pub(super) struct Head {
    /// Tied: the embedding `[vocab, hidden]` (`logits = h · Eᵀ`); else the linear weight
    /// `[hidden, vocab]` (burn's layout, `logits = h · W + b`).
    pub weight: Tensor<2>,
    /// The linear layer's bias `[vocab]`, if any.
    pub bias: Option<Tensor<1>>,
    /// Whether the head is the embedding.
    tied: bool,
}

impl Head {
    pub fn of(lm: &CausalLm) -> Self {
        match &lm.lm_head {
            Some(linear) => Head {
                weight: linear.weight.val(),
                bias: linear.bias.as_ref().map(|bias| bias.val()),
                tied: false,
            },
            None => Head {
                weight: lm.embed_tokens.weight.val(),
                bias: None,
                tied: true,
            },
        }
    }

    /// The same head detached from the graph (constants for the chunk computations).
    pub fn constant(&self) -> Self {
        Head {
            weight: self.weight.clone().inner(),
            bias: self.bias.clone().map(Tensor::inner),
            tied: self.tied,
        }
    }

    pub fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        let z = if self.tied {
            h.matmul(self.weight.clone().transpose())
        } else {
            h.matmul(self.weight.clone())
        };
        match &self.bias {
            Some(b) => z + b.clone().unsqueeze_dim(0),
            None => z,
        }
    }

    /// `∂/∂h` of `Σ g ⊙ logits(h)`.
    pub fn grad_input(&self, g: Tensor<2>) -> Tensor<2> {
        if self.tied {
            g.matmul(self.weight.clone())
        } else {
            g.matmul(self.weight.clone().transpose())
        }
    }

    /// `∂/∂W` of `Σ g ⊙ logits(h)`, in the weight's own layout.
    pub fn grad_weight(&self, h: Tensor<2>, g: Tensor<2>) -> Tensor<2> {
        if self.tied {
            g.transpose().matmul(h)
        } else {
            h.transpose().matmul(g)
        }
    }
}
