//! The reward model: the decoder's final hidden states and a scalar head read at the last real
//! token of each sequence. The type lives in `cai-model`, which PPO's critic shares.

pub use cai_model::RewardModel;
