//! numpy masked arrays (`numpy.ma.MaskedArray`).
//!
//! `MaskedArray.__reduce__` (numpy/ma/core.py) returns
//! `(_mareconstruct, (cls, baseclass, (0,), 'b'), state)`, and `__setstate__` reads
//! `state = (version, shape, dtype, is_fortran, data, mask, fill_value)`: the ndarray's own
//! state, then the mask as the bytes of `getmaskarray(self).tobytes(order)` (one bool per
//! element, in the data's order) and the fill value (`None` unless one was set). The same
//! in numpy 1.x and 2.x.
//!
//! The data is lifted as the array built at the call (so `explain` lists it at the
//! object's path and `extract` writes it as `<name>.npy`); the mask as a second array of
//! the same node, reported at `<path>.mask` (written as `<name>.mask.npy`); the fill value
//! stays a node (the JSON extractor writes `{"$masked": {"data", "mask", "fill_value"}}`).

use super::{ArrayData, ArrayInfo, ArrayKind, ByteOrder, DType, Known, Lifter};
use crate::machine::NodeId;

/// What a masked array adds to its data.
#[derive(Clone, Debug, PartialEq)]
pub struct Mask {
    /// The mask: `|b1`, the data's shape and order; or why it cannot be read.
    pub mask: Result<ArrayInfo, String>,
    /// The fill value node (`None` in the pickle when unset), if the state has one.
    pub fill_value: Option<NodeId>,
}

/// The path step of a masked array's mask, appended to the array's path.
pub const MASK_STEP: &str = ".mask";

/// The 7-item state of a masked array, if `state` is one.
fn state_items<'g>(lifter: &Lifter<'g, '_>, state: Option<NodeId>) -> Result<&'g [NodeId], String> {
    let state = state.ok_or("masked array without BUILD state")?;
    let items = lifter
        .graph
        .tuple(state)
        .ok_or("masked array state is not a tuple")?;
    match items.len() {
        7 => Ok(items),
        n => Err(format!("masked array state has {n} items, not 7")),
    }
}

/// The data of the masked array built at a `_mareconstruct` call with BUILD `state`.
pub(super) fn data(
    lifter: &mut Lifter<'_, '_>,
    state: Option<NodeId>,
) -> Result<ArrayInfo, String> {
    let items = state_items(lifter, state)?;
    lifter.ndarray_state(items.get(..5).unwrap_or_default())
}

/// The mask and fill value of the masked array at `node`, if it is a `_mareconstruct`
/// call whose data was lifted as `data`.
pub(super) fn mask(lifter: &mut Lifter<'_, '_>, node: NodeId, data: &ArrayInfo) -> Option<Mask> {
    let (call, known) = lifter.names.call(lifter.graph, node)?;
    if known != Known::MaReconstruct {
        return None;
    }
    let items = state_items(lifter, call.state).ok()?;
    let (mask, fill_value) = match items {
        [.., mask, fill] => (*mask, *fill),
        _ => return None,
    };
    let mask = match &data.dtype {
        // make_mask_descr gives a structured dtype a structured mask (a bool per field).
        DType::Structured { .. } | DType::SubArray { .. } => {
            Err("the mask of a structured masked array is not read".to_string())
        }
        _ => match lifter.buffer_data(mask) {
            ArrayData::Unavailable(reason) => Err(reason),
            data_of_mask => Ok(ArrayInfo {
                kind: ArrayKind::Ndarray,
                dtype: DType::simple('b', 1, ByteOrder::NotApplicable),
                shape: data.shape.clone(),
                fortran_order: data.fortran_order,
                data: data_of_mask,
            }),
        },
    };
    Some(Mask {
        mask,
        fill_value: Some(fill_value),
    })
}
