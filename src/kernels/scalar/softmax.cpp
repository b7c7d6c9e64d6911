#include "../softmax.inl"
