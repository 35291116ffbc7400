// nnmf: hierarchical topic modeling with Neural NMF. Umbrella header.
#pragma once

#include "nnmf/baselines.hpp"
#include "nnmf/config.hpp"
#include "nnmf/context.hpp"
#include "nnmf/error.hpp"
#include "nnmf/held_out.hpp"
#include "nnmf/io.hpp"
#include "nnmf/matrix.hpp"
#include "nnmf/model.hpp"
#include "nnmf/nmf.hpp"
#include "nnmf/nnls.hpp"
#include "nnmf/select_rank.hpp"
#include "nnmf/topics.hpp"
