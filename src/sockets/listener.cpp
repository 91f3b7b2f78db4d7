#include "netwhy/listener.hpp"

#include <algorithm>

namespace netwhy {

const Process* main_process(const Listener& l) {
  for (const Process& p : l.processes) {
    const bool parent_holds = std::any_of(l.processes.begin(), l.processes.end(),
                                          [&](const Process& q) { return q.pid == p.ppid; });
    if (!parent_holds) return &p;
  }
  return l.processes.empty() ? nullptr : &l.processes.front();
}

}  // namespace netwhy
