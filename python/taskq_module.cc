// taskq._taskq: the Python binding of libtaskq (include/taskq/taskq.h), under the pure-Python
// package python/taskq/__init__.py, which gives it its Python shape (keyword arguments in seconds,
// the Task dataclass). This layer converts: a Spec object to a TaskSpec, a TaskInfo to the dict
// of `taskq status --json` (same keys, same units), a failed Status to a taskq.Error subclass.
#include <Python.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "taskq/taskq.h"

namespace py = pybind11;
using taskq::api::Code;
using taskq::api::Kind;
using taskq::api::State;
using taskq::api::Status;
using taskq::api::TaskInfo;
using taskq::api::TaskSpec;

namespace {

// One exception class per failure code, all under taskq.Error (created in PYBIND11_MODULE).
PyObject* g_errors[6] = {};

// A failed Status on its way to Python: the translator raises the class of its code.
struct StatusError {
  Status status;
};

void Check(const Status& status) {
  if (!status.ok()) throw StatusError{status};
}

TaskSpec SpecFromPython(const py::handle& spec) {
  TaskSpec out;
  const std::string kind = py::str(spec.attr("kind"));
  if (kind == "cpu") {
    out.kind = Kind::kCpu;
  } else if (kind == "io") {
    out.kind = Kind::kIo;
  } else if (kind == "exec") {
    out.kind = Kind::kExec;
  } else {
    Check(Status(Code::kInvalid, "kind: must be cpu, io or exec, got '" + kind + "'"));
  }
  out.cpu.count = spec.attr("count").cast<uint64_t>();
  out.cpu.seed = spec.attr("seed").cast<uint64_t>();
  out.io.bytes = spec.attr("bytes").cast<uint64_t>();
  out.io.path = spec.attr("path").cast<std::string>();
  out.io.block = spec.attr("block_size").cast<uint64_t>();
  out.io.fsync = spec.attr("fsync").cast<bool>();
  out.exec.argv = spec.attr("argv").cast<std::vector<std::string>>();
  out.exec.cwd = spec.attr("cwd").cast<std::string>();
  out.exec.env = spec.attr("env").cast<std::vector<std::string>>();
  out.timeout_ms = spec.attr("timeout_ms").cast<int64_t>();
  out.retries = spec.attr("retries").cast<int32_t>();
  out.group = spec.attr("group").cast<std::string>();
  out.priority = spec.attr("priority").cast<int32_t>();
  out.after = spec.attr("after").cast<std::vector<uint64_t>>();
  out.not_before_us = spec.attr("not_before_us").cast<uint64_t>();
  out.hold = spec.attr("hold").cast<bool>();
  out.labels = spec.attr("labels").cast<std::vector<std::string>>();
  out.retry_on = spec.attr("retry_on").cast<std::string>();
  out.retry_delay_ms = spec.attr("retry_delay_ms").cast<uint32_t>();
  out.retry_delay_max_ms = spec.attr("retry_delay_max_ms").cast<uint32_t>();
  out.unique = spec.attr("unique").cast<std::string>();
  return out;
}

py::object TimeOrNone(uint64_t us) {
  return us == 0 ? py::object(py::none()) : py::object(py::int_(us));
}

py::dict SpecToDict(const TaskInfo& task) {
  const TaskSpec& spec = task.spec;
  py::dict d;
  switch (spec.kind) {
    case Kind::kCpu:
      d["count"] = spec.cpu.count;
      d["seed"] = spec.cpu.seed;
      break;
    case Kind::kIo:
      d["bytes"] = spec.io.bytes;
      d["path"] = task.io_path;
      d["block"] = spec.io.block;
      d["fsync"] = spec.io.fsync;
      break;
    case Kind::kExec:
      d["argv"] = spec.exec.argv;
      d["cwd"] = spec.exec.cwd;
      d["env"] = spec.exec.env;
      break;
  }
  return d;
}

py::object ResultToPython(const TaskInfo& task) {
  if (!task.finished() || task.state == State::kCancelled) return py::none();
  py::dict d;
  switch (task.kind) {
    case Kind::kCpu: {
      if (!task.succeeded()) return py::none();
      char hex[17];
      std::snprintf(hex, sizeof(hex), "%016" PRIx64, task.checksum);
      d["checksum"] = std::string(hex);
      d["count"] = task.result_count;
      break;
    }
    case Kind::kIo:
      if (!task.succeeded()) return py::none();
      d["bytes"] = task.result_count;
      d["path"] = task.io_path;
      break;
    case Kind::kExec:
      d["stdout"] = task.stdout_path;
      d["stderr"] = task.stderr_path;
      break;
  }
  return d;
}

// The keys and units of `taskq status --json` (common/task_json.cc).
py::dict TaskToDict(const TaskInfo& task) {
  py::dict d;
  d["id"] = task.id;
  d["kind"] = taskq::api::KindName(task.kind);
  // As the CLI shows it: a paused run is "paused" (the C++ API: kRunning with paused set).
  d["state"] = task.paused ? "paused" : taskq::api::StateName(task.state);
  d["exit_code"] = task.finished() && task.exit_code >= 0 ? py::object(py::int_(task.exit_code))
                                                          : py::object(py::none());
  d["signal"] = task.signal != 0 ? py::object(py::int_(task.signal)) : py::object(py::none());
  d["submitted_at"] = TimeOrNone(task.submitted_at_us);
  d["started_at"] = TimeOrNone(task.started_at_us);
  d["finished_at"] = TimeOrNone(task.finished_at_us);
  d["queue_wait_us"] = task.started_at_us != 0 && task.started_at_us >= task.submitted_at_us
                           ? py::object(py::int_(task.queue_wait_us()))
                           : py::object(py::none());
  d["run_us"] = task.finished() && task.started_at_us != 0 ? py::object(py::int_(task.run_us()))
                                                           : py::object(py::none());
  d["user_us"] = task.user_us;
  d["sys_us"] = task.sys_us;
  d["max_rss_kb"] = task.max_rss_kb;
  d["pid"] = task.pid != 0 ? py::object(py::int_(task.pid)) : py::object(py::none());
  d["attempts"] = task.attempts;
  d["retries"] = task.retries;
  d["timeout_ms"] =
      task.timeout_ms != 0 ? py::object(py::int_(task.timeout_ms)) : py::object(py::none());
  d["uid"] = task.submitter_uid;
  d["group"] = task.group;
  d["priority"] = task.priority;
  d["after"] = task.after;
  d["not_before"] = TimeOrNone(task.not_before_us);
  d["held"] = task.held;
  py::dict labels;
  for (const std::string& label : task.labels) {
    const size_t eq = label.find('=');
    labels[py::str(label.substr(0, eq))] = label.substr(eq + 1);
  }
  d["labels"] = labels;
  d["unique"] = task.unique.empty() ? py::object(py::none()) : py::object(py::str(task.unique));
  d["array_id"] = task.array_id != 0 ? py::object(py::int_(task.array_id)) : py::object(py::none());
  d["array_index"] =
      task.array_id != 0 ? py::object(py::int_(task.array_index)) : py::object(py::none());
  d["retry_on"] = task.retry_on;
  d["retry_delay_ms"] =
      task.retry_delay_ms != 0 ? py::object(py::int_(task.retry_delay_ms)) : py::object(py::none());
  d["retry_delay_max_ms"] = task.retry_delay_max_ms != 0
                                ? py::object(py::int_(task.retry_delay_max_ms))
                                : py::object(py::none());
  py::list attempts;
  for (const auto& a : task.attempt_log) {
    py::dict entry;
    entry["attempt"] = a.attempt;
    entry["state"] = taskq::api::StateName(a.state);
    entry["exit_code"] =
        a.exit_code >= 0 ? py::object(py::int_(a.exit_code)) : py::object(py::none());
    entry["signal"] = a.signal != 0 ? py::object(py::int_(a.signal)) : py::object(py::none());
    attempts.append(entry);
  }
  d["attempt_log"] = attempts;
  d["paused"] = task.paused;
  d["paused_us"] = task.paused_us;
  d["result"] = ResultToPython(task);
  d["spec"] = task.spec_valid ? py::object(SpecToDict(task)) : py::object(py::none());
  d["reason"] = task.reason.empty() ? py::object(py::none()) : py::object(py::str(task.reason));
  const uint64_t run_us = task.run_us();
  d["cpu_share"] = run_us > 0
                       ? py::object(py::float_(double(task.user_us + task.sys_us) / double(run_us)))
                       : py::object(py::none());
  d["read_bytes"] = task.read_bytes;
  d["write_bytes"] = task.write_bytes;
  d["vol_ctxsw"] = task.voluntary_context_switches;
  d["invol_ctxsw"] = task.involuntary_context_switches;
  return d;
}

py::list TasksToList(const std::vector<TaskInfo>& tasks) {
  py::list out;
  for (const TaskInfo& task : tasks) out.append(TaskToDict(task));
  return out;
}

class PyClient {
 public:
  PyClient(const std::string& queue, const std::string& config) {
    Check(taskq::api::Client::Connect({.queue = queue, .config_path = config}, &client_));
  }

  std::vector<uint64_t> Submit(const py::list& specs, bool block, int64_t block_timeout_ms) {
    std::vector<TaskSpec> converted;
    for (const py::handle& spec : specs) converted.push_back(SpecFromPython(spec));
    std::vector<uint64_t> ids;
    Status status;
    {
      py::gil_scoped_release release;
      status =
          client_->Submit(converted, {.block = block, .block_timeout_ms = block_timeout_ms}, &ids);
    }
    if (!status.ok() && !ids.empty()) {
      Check(Status(status.code(), std::to_string(ids.size()) + " of " +
                                      std::to_string(converted.size()) + " tasks were submitted; " +
                                      status.message()));
    }
    Check(status);
    return ids;
  }

  // Waits in slices, so that Ctrl-C (a pending Python signal) ends a long wait with
  // KeyboardInterrupt; other Python threads run meanwhile.
  py::list Wait(const std::vector<uint64_t>& ids, int64_t timeout_ms) {
    constexpr int64_t kSliceMs = 100;
    const auto start = std::chrono::steady_clock::now();
    std::vector<TaskInfo> tasks;
    for (;;) {
      int64_t slice = kSliceMs;
      if (timeout_ms >= 0) {
        const int64_t spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count();
        slice = std::clamp<int64_t>(timeout_ms - spent, 0, kSliceMs);
      }
      Status status;
      {
        py::gil_scoped_release release;
        status = client_->Wait(ids, slice, &tasks);
      }
      if (status.ok()) return TasksToList(tasks);
      if (status.code() != Code::kTimedOut) Check(status);
      if (slice < kSliceMs) Check(status);  // the caller's timeout ran out
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    }
  }

  py::dict Get(uint64_t id) {
    TaskInfo task;
    Check(client_->Get(id, &task));
    return TaskToDict(task);
  }

  py::list List() {
    std::vector<TaskInfo> tasks;
    Check(client_->List(&tasks));
    return TasksToList(tasks);
  }

  void Cancel(uint64_t id) { Check(client_->Cancel(id)); }
  void Kill(uint64_t id, const std::string& signal) { Check(client_->Kill(id, signal)); }
  void Hold(uint64_t id) { Check(client_->Hold(id)); }
  void Release(uint64_t id) { Check(client_->Release(id)); }
  void Pause(uint64_t id) { Check(client_->Pause(id)); }
  void Restart(uint64_t id) { Check(client_->Restart(id)); }
  void Resume(uint64_t id) { Check(client_->Resume(id)); }

  int32_t Ping(int64_t timeout_ms) {
    int32_t pid = 0;
    Status status;
    {
      py::gil_scoped_release release;
      status = client_->Ping(timeout_ms, &pid);
    }
    Check(status);
    return pid;
  }

  std::string queue() const { return client_->queue(); }
  std::string state_dir() const { return client_->state_dir(); }

 private:
  std::unique_ptr<taskq::api::Client> client_;
};

PyObject* NewError(py::module_& m, const char* name, int code, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("taskq.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw py::error_already_set();
  // The code of the class (0 for the base class); a raised error has it as `e.code`.
  if (PyObject_SetAttrString(type, "code", py::int_(code).ptr()) != 0)
    throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

}  // namespace

PYBIND11_MODULE(_taskq, m) {
  m.doc() = "libtaskq's binding; use the package `taskq`, not this module";
  PyObject* error = NewError(m, "Error", 0, nullptr,
                             "A taskq call failed; str(e) is the one-line message, e.code the "
                             "taskq command's exit code for it.");
  g_errors[0] = error;
  g_errors[static_cast<int>(Code::kFailed)] =
      NewError(m, "FailedError", 1, error, "The operation did not succeed (exit code 1).");
  g_errors[static_cast<int>(Code::kInvalid)] =
      NewError(m, "InvalidError", 2,
               py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)).release().ptr(),
               "Bad input: a spec, an unknown task id, a bad configuration (exit code 2).");
  g_errors[static_cast<int>(Code::kUnavailable)] = NewError(
      m, "UnavailableError", 3, error, "No daemon serves the queue, or it may not be opened (3).");
  g_errors[static_cast<int>(Code::kQueueFull)] =
      NewError(m, "QueueFullError", 4, error, "The queue has no free slot (exit code 4).");
  g_errors[static_cast<int>(Code::kTimedOut)] =
      NewError(m, "TimeoutError", 5,
               py::make_tuple(py::handle(error), py::handle(PyExc_TimeoutError)).release().ptr(),
               "A wait ran out of time (exit code 5).");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      const int code = static_cast<int>(e.status.code());
      PyObject* type = code > 0 && code < 6 ? g_errors[code] : g_errors[0];
      py::object value = py::reinterpret_steal<py::object>(
          PyObject_CallFunction(type, "s", e.status.message().c_str()));
      if (!value) return;  // the call set its own error
      PyErr_SetObject(type, value.ptr());
    }
  });

  m.def("version", &taskq::api::Version, "libtaskq's version");
  py::class_<PyClient>(m, "Client")
      .def(py::init<const std::string&, const std::string&>(), py::arg("queue"), py::arg("config"))
      .def("submit", &PyClient::Submit, py::arg("specs"), py::arg("block"),
           py::arg("block_timeout_ms"))
      .def("wait", &PyClient::Wait, py::arg("ids"), py::arg("timeout_ms"))
      .def("get", &PyClient::Get, py::arg("id"))
      .def("list", &PyClient::List)
      .def("cancel", &PyClient::Cancel, py::arg("id"))
      .def("kill", &PyClient::Kill, py::arg("id"), py::arg("signal"))
      .def("hold", &PyClient::Hold, py::arg("id"))
      .def("release", &PyClient::Release, py::arg("id"))
      .def("pause", &PyClient::Pause, py::arg("id"))
      .def("restart", &PyClient::Restart, py::arg("id"))
      .def("resume", &PyClient::Resume, py::arg("id"))
      .def("ping", &PyClient::Ping, py::arg("timeout_ms"))
      .def_property_readonly("queue", &PyClient::queue)
      .def_property_readonly("state_dir", &PyClient::state_dir);
}
