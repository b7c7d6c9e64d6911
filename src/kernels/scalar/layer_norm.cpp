#include "../layer_norm.inl"
