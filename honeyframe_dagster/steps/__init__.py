"""The step kinds, one package each (`steps/<kind>/`: `model.py` pydantic only, `op.py` Dagster).

`steps/registry.py` lists the kinds' models (no Dagster); `steps/ops.py` their ops and resources. Shared by the
ops: `context.py` (finding the step at run time), `transactional.py` and `commit.py` (staged warehouse writes).
"""
