// Intentionally empty: this layer gains code in later issues.
namespace lineage {}
