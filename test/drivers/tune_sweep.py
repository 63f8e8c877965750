"""A Ray Tune sweep of 8 trials, each in its own placement group. Prints TUNE OK <trials> <best>."""
import ray
from ray import tune

ray.init()


def trainable(config):
    import socket
    import time

    score = 0.0
    for step in range(3):
        time.sleep(0.2)
        score = -((config["x"] - 3) ** 2) + step
        tune.report({"score": score, "host": socket.gethostname()})


tuner = tune.Tuner(
    tune.with_resources(trainable, {"cpu": 1}),
    param_space={"x": tune.grid_search(list(range(8)))},
    tune_config=tune.TuneConfig(metric="score", mode="max"),
    run_config=tune.RunConfig(name="rsge_tune", verbose=0),
)
results = tuner.fit()
errors = [r.error for r in results if r.error]
assert not errors, errors
assert len(results) == 8, len(results)
best = results.get_best_result()
print("TUNE OK", len(results), best.config["x"], flush=True)
