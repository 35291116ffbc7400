// Exception types thrown by nnmf.
//
// Every public operation checks its arguments at the door and throws one of these; nothing
// is thrown from device code. Messages name the argument at fault and the sizes or values
// involved, e.g. "nnls: X has 87 rows but A has 90 rows (A is 90 x 9, X is 87 x 90)".
#pragma once

#include <stdexcept>
#include <string>

namespace nnmf {

/// Base class of every exception nnmf throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// An argument has a bad value: NaN/Inf, a negative entry, a rank too large, a label out of
/// range, an option out of its domain.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

/// Two arguments have sizes that do not fit together.
class DimensionMismatch : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Reading or writing a file failed, or a file is malformed (the message names the file and,
/// where it applies, the line).
class IoError : public Error {
 public:
  using Error::Error;
};

/// The answer cannot be represented in the working precision: an NNLS solution or a layer's
/// coefficients that overflow or underflow float/double although every input is finite
/// (the message names the operation and the column or layer).
class RangeError : public Error {
 public:
  using Error::Error;
};

/// A backend failed at run time: a CUDA, cuBLAS, cuSPARSE or cuSOLVER call returned an error,
/// or the device ran out of memory (see OutOfMemory).
class BackendError : public Error {
 public:
  using Error::Error;
};

/// The device could not allocate the memory an operation needs; the message gives the size.
class OutOfMemory : public BackendError {
 public:
  using BackendError::BackendError;
};

/// The operation needs a backend this build of nnmf was compiled without (e.g. CUDA).
class NotCompiled : public Error {
 public:
  using Error::Error;
};

/// Another process of a multi-process (MPI) run failed; every process stops with this, the
/// message naming the process that failed and its error.
class PeerError : public Error {
 public:
  using Error::Error;
};

}  // namespace nnmf
