// Times the steps of `netwhy port PORT --snapshot FILE` apart: loading the
// file, the diagnosis, and both renderers. For bench/addresses.sh; prints
// one line of milliseconds (the median of the runs of each step), and the
// diagnosis's CPU time too (on a busy machine the wall clock says more
// about the other processes).
//   build/bench/diagnose-time FILE PORT [RUNS]
#include <algorithm>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "netwhy/color.hpp"
#include "netwhy/diagnose.hpp"
#include "netwhy/file.hpp"
#include "netwhy/json_writer.hpp"
#include "netwhy/render_diagnosis.hpp"
#include "netwhy/snapshot.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fputs("usage: diagnose-time FILE PORT [RUNS]\n", stderr);
    return 2;
  }
  const int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  netwhy::Query q;
  q.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  q.protocol = netwhy::Protocol::tcp;
  std::vector<double> load, diag, diag_cpu, text, json;
  std::size_t findings = 0;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto raw = netwhy::read_file(argv[1], std::size_t{64} << 20);
    if (!raw) {
      std::fputs("cannot read the file\n", stderr);
      return 2;
    }
    auto snap = netwhy::snapshot_from_json(*raw);
    if (!snap) {
      std::fputs("not a snapshot\n", stderr);
      return 2;
    }
    load.push_back(ms_since(t0));
    t0 = Clock::now();
    const double c0 = cpu_ms();
    const netwhy::Diagnosis d = netwhy::diagnose(*snap, q);
    diag_cpu.push_back(cpu_ms() - c0);
    diag.push_back(ms_since(t0));
    findings = d.findings.size();
    t0 = Clock::now();
    const std::string out = netwhy::render_diagnosis_text(d, netwhy::Palette{});
    text.push_back(ms_since(t0));
    t0 = Clock::now();
    std::FILE* null = std::fopen("/dev/null", "w");
    {
      netwhy::JsonWriter w(netwhy::JsonStyle::compact, null);
      netwhy::render_diagnosis_json(w, d);
      w.flush();
    }
    std::fclose(null);
    json.push_back(ms_since(t0));
    (void)out;
  }
  fmt::print("load {:.1f} ms  diagnose {:.1f} ms (cpu {:.1f} ms)  text {:.1f} ms  json {:.1f} ms  ({} findings)\n",
             median(load), median(diag), median(diag_cpu), median(text), median(json), findings);
  return 0;
}
