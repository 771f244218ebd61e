#include "common/time_source.h"

namespace imapgate {

const RealTimeSource& RealTimeSource::Get() {
  static const RealTimeSource instance;
  return instance;
}

}  // namespace imapgate
