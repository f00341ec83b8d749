# A pickled tf.Variable as TensorFlow 2.x writes one (BaseResourceVariable.__reduce__:
# functools.partial(ResourceVariable, trainable=…, name=…, dtype=…, constraint=…,
# distribute_strategy=…) called with the value as a numpy array), made with stand-in
# modules because TensorFlow is not installed. DType.__reduce__ is (as_dtype, (name,)).
import functools, pickle, sys, types
import numpy as np

def module(name):
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sub = ".".join(parts[:i])
        if sub not in sys.modules:
            sys.modules[sub] = types.ModuleType(sub)
    return sys.modules[name]

dtypes = module("tensorflow.python.framework.dtypes")
rvo = module("tensorflow.python.ops.resource_variable_ops")

class DType:
    def __init__(self, name): self.name = name
    def __reduce__(self): return (as_dtype, (self.name,))
def as_dtype(name): return DType(name)
DType.__module__ = as_dtype.__module__ = dtypes.__name__
DType.__qualname__ = "DType"
dtypes.DType, dtypes.as_dtype = DType, as_dtype

class ResourceVariable:
    def __init__(self, initial_value=None, trainable=None, name=None, dtype=None,
                 constraint=None, distribute_strategy=None):
        self.value, self.name, self.dtype = initial_value, name, dtype
    def __reduce__(self):
        return (functools.partial(ResourceVariable, trainable=True, name=self.name,
                                  dtype=self.dtype, constraint=None,
                                  distribute_strategy=None),
                (self.value,))
ResourceVariable.__module__ = rvo.__name__
rvo.ResourceVariable = ResourceVariable

v = ResourceVariable(np.arange(6, dtype=np.float32).reshape(2, 3), name="dense/kernel:0",
                     dtype=DType("float32"))
for proto in (2, 4):
    with open(f"tf_variable_p{proto}.pkl", "wb") as f:
        pickle.dump({"kernel": v}, f, protocol=proto)
