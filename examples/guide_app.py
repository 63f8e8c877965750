# The example application of the user guide, unchanged.
import ray

# Connect to existing cluster
ray.init(address="auto")

# Your Ray application
@ray.remote
def compute_task(x):
    return x * x

# Submit tasks
futures = [compute_task.remote(i) for i in range(100)]
results = ray.get(futures)

print(f"Results: {results}")
