//! Parameters addressed by their module path (`layers.0.self_attn.q_proj.weight`,
//! `layers.0.self_attn.q_proj.weight.lora.a`, …): path-derived ids, and export/import of the
//! trainable tensors.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::{DType, Tensor, TensorData};

use cai_model::weights::WeightTensor;
use cai_model::{ModelError, Result};

/// 64-bit FNV-1a of a path: stable across processes and builds.
fn path_hash(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The dotted path of the parameter being visited or mapped.
#[derive(Default)]
struct PathStack(Vec<String>);

impl PathStack {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    fn exit(&mut self) {
        self.0.pop();
    }

    fn current(&self) -> String {
        self.0.join(".")
    }
}

struct StableIds(PathStack);

impl ModuleMapper for StableIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.0.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.0.exit();
    }

    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.id = ParamId::from(path_hash(&self.0.current()));
        param
    }
}

/// Gives every float parameter an id derived from its path, so optimizer state saved by one process
/// (keyed by parameter id) applies to the same parameters of a model rebuilt by another. Call it
/// after every structural change (loading, attaching LoRA adapters).
pub fn stable_param_ids<M: Module>(module: M) -> M {
    module.map(&mut StableIds(PathStack::default()))
}

struct Trainable {
    path: PathStack,
    out: Vec<(String, WeightTensor)>,
}

impl ModuleVisitor for Trainable {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.base();
        if !value.is_require_grad() {
            return;
        }
        let shape = value.dims().to_vec();
        let data = value
            .cast(DType::F32)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        self.out
            .push((self.path.current(), WeightTensor { shape, data }));
    }
}

/// Every parameter that requires a gradient, by module path, as `f32` (the stored value, without
/// any attached LoRA delta). With LoRA these are exactly the adapter factors.
pub fn named_trainable_tensors<M: Module>(module: &M) -> Vec<(String, WeightTensor)> {
    let mut visitor = Trainable {
        path: PathStack::default(),
        out: Vec::new(),
    };
    module.visit(&mut visitor);
    visitor.out
}

struct Replace {
    path: PathStack,
    tensors: HashMap<String, WeightTensor>,
    error: Option<String>,
}

impl ModuleMapper for Replace {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.enter(name);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.current();
        let Some(saved) = self.tensors.remove(&path) else {
            return param;
        };
        param.map(|old| {
            if old.dims().as_slice() != saved.shape.as_slice() {
                self.error.get_or_insert(format!(
                    "`{path}` has shape {:?}, saved {:?}",
                    old.dims(),
                    saved.shape
                ));
                return old;
            }
            let shape: [usize; D] = old.dims();
            let grad = old.is_require_grad();
            Tensor::<D>::from_data(TensorData::new(saved.data, shape), &old.device())
                .cast(old.dtype())
                .set_require_grad(grad)
        })
    }
}

/// Replaces the parameters named in `tensors` (module paths, as written by
/// [`named_trainable_tensors`]); fails if a name matches no parameter or a shape differs.
pub fn load_named_tensors<M: Module>(
    module: M,
    tensors: HashMap<String, WeightTensor>,
) -> Result<M> {
    let mut mapper = Replace {
        path: PathStack::default(),
        tensors,
        error: None,
    };
    let module = module.map(&mut mapper);
    if let Some(error) = mapper.error {
        return Err(ModelError::Invalid(error));
    }
    if let Some(name) = mapper.tensors.keys().next() {
        return Err(ModelError::Invalid(format!(
            "saved tensor `{name}` matches no parameter"
        )));
    }
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::Device;

    fn ids(linear: &Linear) -> (ParamId, ParamId) {
        (linear.weight.id, linear.bias.as_ref().unwrap().id)
    }

    #[test]
    fn ids_depend_only_on_paths() {
        let device = Device::flex();
        let a = stable_param_ids(LinearConfig::new(3, 2).init(&device));
        let b = stable_param_ids(LinearConfig::new(3, 2).init(&device));
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a).0, ids(&a).1);
    }

    #[test]
    fn trainable_tensors_round_trip_by_path() {
        let device = Device::flex().autodiff();
        let a = LinearConfig::new(3, 2).init(&device);
        let b = LinearConfig::new(3, 2).init(&device);
        let saved = named_trainable_tensors(&a);
        let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["weight", "bias"]);
        let b = load_named_tensors(b, saved.into_iter().collect()).unwrap();
        let values = |l: &Linear| l.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values(&a), values(&b));
        assert!(b.weight.val().is_require_grad());
        let unknown = HashMap::from([(
            "nope".to_string(),
            WeightTensor {
                shape: vec![1],
                data: vec![0.0],
            },
        )]);
        assert!(load_named_tensors(b, unknown).is_err());
    }
}
