//! The autodiff node of [`CpuConvBackend::cpu_conv2d`]: burn's own conv2d node with our two
//! gradient kernels in its backward pass. Inputs are kept through the checkpointer, as burn
//! keeps them for its conv2d, so gradient checkpointing works the same way.

use burn::backend::TensorMetadata;
use burn::backend::tensor::FloatTensor;
use burn::tensor::ops::ConvOptions;
use burn_autodiff::Autodiff;
use burn_autodiff::NodeId;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};

use crate::extension::CpuConvBackend;

#[derive(Debug)]
struct CpuConv2dBackward;

impl<B: CpuConvBackend> Backward<B, 2> for CpuConv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        if let Some(node) = node_x {
            let x_shape = dims(&x);
            let grad = B::cpu_conv2d_input_grad(
                weight.clone(),
                output_grad.clone(),
                x_shape,
                options.clone(),
            );
            grads.register::<B>(node.id, grad);
        }
        if let Some(node) = node_weight {
            let weight_shape = dims(&weight);
            let grad = B::cpu_conv2d_weight_grad(x, output_grad, weight_shape, options);
            grads.register::<B>(node.id, grad);
        }
    }
}

fn dims<T: TensorMetadata>(tensor: &T) -> [usize; 4] {
    let shape = tensor.shape();
    [shape[0], shape[1], shape[2], shape[3]]
}

impl<B: CpuConvBackend, C: CheckpointStrategy> CpuConvBackend for Autodiff<B, C> {
    fn cpu_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match CpuConv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                prep.finish(
                    (x_state, weight_state, options.clone()),
                    B::cpu_conv2d(x.into_primitive(), weight.into_primitive(), options),
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(B::cpu_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }

    // The gradient kernels run on the inner backend inside the node above; a second derivative
    // through them is not supported (no defense or attack here takes one).
    fn cpu_conv2d_input_grad(
        _weight: FloatTensor<Self>,
        _output_grad: FloatTensor<Self>,
        _x_shape: [usize; 4],
        _options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        unimplemented!("the convolution's gradients are first-order only")
    }

    fn cpu_conv2d_weight_grad(
        _x: FloatTensor<Self>,
        _output_grad: FloatTensor<Self>,
        _weight_shape: [usize; 4],
        _options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        unimplemented!("the convolution's gradients are first-order only")
    }
}
