//! The Bradley-Terry loss with soft labels, `−[p·log σ(Δ) + (1 − p)·log σ(−Δ)]` with
//! `Δ = r_chosen − r_rejected − margin` (`p = 1` for human pairs), plus an optional centring
//! penalty `c · (r_chosen + r_rejected)²` that keeps rewards near zero; the mean over the pairs.

use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Tensor, TensorData};

/// The loss settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossSettings {
    /// Subtracted from the reward difference (0 = plain Bradley-Terry).
    pub margin: f64,
    /// Weight of the centring penalty (0 = off).
    pub centring: f64,
}

/// The mean loss of `m` pairs from their rewards `r_chosen`, `r_rejected` `[m]` and labels.
pub fn bradley_terry(
    chosen: Tensor<1>,
    rejected: Tensor<1>,
    labels: &[f64],
    settings: LossSettings,
) -> Tensor<1> {
    let m = labels.len();
    let device = chosen.device();
    let p: Vec<f32> = labels.iter().map(|&p| p as f32).collect();
    let p = Tensor::<1>::from_data(TensorData::new(p, [m]), &device);
    let delta = (chosen.clone() - rejected.clone()).sub_scalar(settings.margin);
    let nll = (p.clone() * log_sigmoid(delta.clone())
        + p.neg().add_scalar(1.0) * log_sigmoid(delta.neg()))
    .neg();
    let loss = if settings.centring > 0.0 {
        nll + (chosen + rejected).square().mul_scalar(settings.centring)
    } else {
        nll
    };
    loss.mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn t(v: &[f32]) -> Tensor<1> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Device::flex())
    }

    fn value(x: Tensor<1>) -> f64 {
        x.into_scalar::<f32>() as f64
    }

    #[test]
    fn the_loss_is_the_soft_bradley_terry_formula() {
        let ln_sigmoid = |x: f64| -(1.0 + (-x).exp()).ln();
        let (c, r) = ([1.5f32, -0.2, 0.3], [0.5f32, 0.4, 0.3]);
        let labels = [1.0, 0.7, 0.5];
        let plain = LossSettings {
            margin: 0.0,
            centring: 0.0,
        };
        let got = value(bradley_terry(t(&c), t(&r), &labels, plain));
        let want: f64 = (0..3)
            .map(|i| {
                let d = (c[i] - r[i]) as f64;
                -(labels[i] * ln_sigmoid(d) + (1.0 - labels[i]) * ln_sigmoid(-d))
            })
            .sum::<f64>()
            / 3.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        let shaped = LossSettings {
            margin: 0.25,
            centring: 0.1,
        };
        let got = value(bradley_terry(t(&c), t(&r), &labels, shaped));
        let want: f64 = (0..3)
            .map(|i| {
                let d = (c[i] - r[i]) as f64 - 0.25;
                let s = (c[i] + r[i]) as f64;
                -(labels[i] * ln_sigmoid(d) + (1.0 - labels[i]) * ln_sigmoid(-d)) + 0.1 * s * s
            })
            .sum::<f64>()
            / 3.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // A tie labelled 0.5 is at its minimum: ln 2.
        let tie = value(bradley_terry(t(&[0.3]), t(&[0.3]), &[0.5], plain));
        assert!((tie - 2f64.ln()).abs() < 1e-6);
    }
}
