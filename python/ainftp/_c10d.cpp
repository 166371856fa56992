// SPDX-License-Identifier: BSD-3-Clause
/*
 * ainftp as a torch.distributed (c10d) backend: a ProcessGroup whose
 * all_reduce (SUM and AVG of floating-point tensors) goes through the
 * appliance with the worker client library, and whose other collectives go
 * to a Gloo group over the same store, made in Python and handed in
 * (ainftp/torch.py registers the backend and builds both: a Gloo group from
 * C++ would need libgloo-dev's headers, and Python already has one).
 *
 * One client per group: the job's worker for this rank. all_reduce starts
 * one client request per tensor and returns a Work at once; one waiter
 * thread per group completes the Works in the order they started (the
 * client's engine finishes requests in that order), so DDP's buckets overlap
 * with backward as they do with Gloo. Float32 CPU contiguous tensors are
 * all-reduced in place; other floating dtypes and GPU tensors through a
 * float32 host copy, copied back before the Work completes. Integer and bool
 * tensors go to Gloo: the appliance's sums are of quantized floats, and a
 * count must be exact.
 *
 * Built by meson against Debian's libtorch-dev (1.13) and pybind11-dev, as
 * the extension module ainftp._c10d (python/ainftp/meson.build).
 */
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/utils/pybind.h>

#include "ainftp_client.h"

namespace py = pybind11;

namespace ainftp_c10d
{

/* Every torch op the waiter runs is on buffers autograd does not track. */
static void
copy_back(at::Tensor &dst, const at::Tensor &src)
{
	at::NoGradGuard no_grad;
	dst.copy_(src);
}

/* A Work that is its Future: DDP's reducer and Python's wait() use either. */
class WorkAinftp : public c10d::Work
{
      public:
	WorkAinftp(int rank, std::vector<at::Tensor> tensors)
	    : c10d::Work(rank, c10d::OpType::ALLREDUCE), tensors_(std::move(tensors)),
	      future_(c10::make_intrusive<c10::ivalue::Future>(
		      c10::ListType::create(c10::TensorType::get())))
	{
	}

	bool isCompleted() override
	{
		return future_->completed();
	}
	bool isSuccess() const override
	{
		return future_->completed() && !future_->hasError();
	}
	std::exception_ptr exception() const override
	{
		return future_->exception_ptr();
	}
	std::vector<at::Tensor> result() override
	{
		return tensors_;
	}
	/*
	 * The client's own timeout bounds the wait (no result for timeout_ms
	 * fails the request), so c10d's per-call timeout is not needed here.
	 */
	bool wait(std::chrono::milliseconds) override
	{
		future_->wait();
		if (future_->hasError())
			std::rethrow_exception(future_->exception_ptr());
		return true;
	}
	c10::intrusive_ptr<c10::ivalue::Future> getFuture() override
	{
		return future_;
	}

	void succeed()
	{
		future_->markCompleted(c10::IValue(tensors_));
	}
	void fail(const std::string &message)
	{
		future_->setError(std::make_exception_ptr(std::runtime_error(message)));
	}

      private:
	std::vector<at::Tensor> tensors_;
	c10::intrusive_ptr<c10::ivalue::Future> future_;
};

/* One all_reduce on its way: a client request per tensor. */
struct Pending {
	c10::intrusive_ptr<WorkAinftp> work;
	std::vector<std::pair<ainftp_req *, int64_t>> reqs; /* and its elements */
	std::vector<at::Tensor> user;			    /* the caller's tensors */
	std::vector<at::Tensor> host; /* what the library writes: user[i] or a copy */
};

struct Tolerance {
	bool accept_overflow; /* AINFTP_E_OVERFLOW: a sum rounded finely, kept */
	/*
	 * A result without every rank: this one's chunks skipped
	 * (AINFTP_E_SKIPPED), or another's left out by the quorum (a chunk's
	 * contributors short of the whole job). all_reduce promises the sum
	 * over every rank, so by default either fails the call.
	 */
	bool accept_partial;
};

/* What the group needs of its job to check a result's contributors. */
struct JobShape {
	uint32_t job;
	uint16_t worker;
	uint32_t elems;	   /* elements per chunk */
	uint64_t everyone; /* the job's workers, bit w for worker w */
};

class ProcessGroupAinftp : public c10d::ProcessGroup
{
      public:
	ProcessGroupAinftp(int rank, int size, c10::intrusive_ptr<c10d::ProcessGroup> gloo,
			   const std::string &config, JobShape shape,
			   const std::map<std::string, std::string> &options, Tolerance tol)
	    : c10d::ProcessGroup(rank, size), gloo_(std::move(gloo)), shape_(shape), tol_(tol)
	{
		client_ = open_client(config, shape.job, shape.worker, options);
		waiter_ = std::thread(&ProcessGroupAinftp::wait_loop, this);
	}

	~ProcessGroupAinftp() override
	{
		{
			std::lock_guard<std::mutex> g(mu_);
			stop_ = true;
		}
		cv_.notify_all();
		waiter_.join();
		ainftp_client_close(client_);
	}

	const std::string getBackendName() const override
	{
		return "ainftp";
	}

	c10::intrusive_ptr<c10d::Work> allreduce(std::vector<at::Tensor> &tensors,
						 const c10d::AllreduceOptions &opts) override;
	c10::intrusive_ptr<c10d::Work>
	allreduce_coalesced(std::vector<at::Tensor> &tensors,
			    const c10d::AllreduceCoalescedOptions &opts) override;

	/* What the appliance does not do goes to Gloo, on the same ranks. */
	c10::intrusive_ptr<c10d::Work> broadcast(std::vector<at::Tensor> &t,
						 const c10d::BroadcastOptions &o) override
	{
		return gloo_->broadcast(t, o);
	}
	c10::intrusive_ptr<c10d::Work> reduce(std::vector<at::Tensor> &t,
					      const c10d::ReduceOptions &o) override
	{
		return gloo_->reduce(t, o);
	}
	c10::intrusive_ptr<c10d::Work> allgather(std::vector<std::vector<at::Tensor>> &out,
						 std::vector<at::Tensor> &in,
						 const c10d::AllgatherOptions &o) override
	{
		return gloo_->allgather(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> _allgather_base(at::Tensor &out, at::Tensor &in,
						       const c10d::AllgatherOptions &o) override
	{
		return gloo_->_allgather_base(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work>
	allgather_coalesced(std::vector<std::vector<at::Tensor>> &out, std::vector<at::Tensor> &in,
			    const c10d::AllgatherOptions &o) override
	{
		return gloo_->allgather_coalesced(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> gather(std::vector<std::vector<at::Tensor>> &out,
					      std::vector<at::Tensor> &in,
					      const c10d::GatherOptions &o) override
	{
		return gloo_->gather(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> scatter(std::vector<at::Tensor> &out,
					       std::vector<std::vector<at::Tensor>> &in,
					       const c10d::ScatterOptions &o) override
	{
		return gloo_->scatter(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> reduce_scatter(std::vector<at::Tensor> &out,
						      std::vector<std::vector<at::Tensor>> &in,
						      const c10d::ReduceScatterOptions &o) override
	{
		return gloo_->reduce_scatter(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work>
	_reduce_scatter_base(at::Tensor &out, at::Tensor &in,
			     const c10d::ReduceScatterOptions &o) override
	{
		return gloo_->_reduce_scatter_base(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> alltoall_base(at::Tensor &out, at::Tensor &in,
						     std::vector<int64_t> &out_splits,
						     std::vector<int64_t> &in_splits,
						     const c10d::AllToAllOptions &o) override
	{
		return gloo_->alltoall_base(out, in, out_splits, in_splits, o);
	}
	c10::intrusive_ptr<c10d::Work> alltoall(std::vector<at::Tensor> &out,
						std::vector<at::Tensor> &in,
						const c10d::AllToAllOptions &o) override
	{
		return gloo_->alltoall(out, in, o);
	}
	c10::intrusive_ptr<c10d::Work> send(std::vector<at::Tensor> &t, int dst, int tag) override
	{
		return gloo_->send(t, dst, tag);
	}
	c10::intrusive_ptr<c10d::Work> recv(std::vector<at::Tensor> &t, int src, int tag) override
	{
		return gloo_->recv(t, src, tag);
	}
	c10::intrusive_ptr<c10d::Work> recvAnysource(std::vector<at::Tensor> &t, int tag) override
	{
		return gloo_->recvAnysource(t, tag);
	}
	c10::intrusive_ptr<c10d::Work> barrier(const c10d::BarrierOptions &o) override
	{
		return gloo_->barrier(o);
	}
	void monitoredBarrier(const c10d::BarrierOptions &o, bool wait_all_ranks) override
	{
		gloo_->monitoredBarrier(o, wait_all_ranks);
	}
	void setSequenceNumberForGroup() override
	{
		gloo_->setSequenceNumberForGroup();
	}
	uint64_t getSequenceNumberForGroup() override
	{
		return gloo_->getSequenceNumberForGroup();
	}

	/* The client's counters and the group's own, for logs and tests. */
	std::map<std::string, uint64_t> stats();
	c10::intrusive_ptr<c10d::ProcessGroup> gloo() const
	{
		return gloo_;
	}
	uint32_t job() const
	{
		return shape_.job;
	}
	uint16_t worker() const
	{
		return shape_.worker;
	}

      private:
	static ainftp_client *open_client(const std::string &config, uint32_t job, uint16_t worker,
					  const std::map<std::string, std::string> &options);
	bool through_box(const std::vector<at::Tensor> &tensors, c10d::ReduceOp op,
			 int *ainftp_op) const;
	c10::intrusive_ptr<c10d::Work> start(std::vector<at::Tensor> &tensors, int op);
	void wait_loop();
	std::string finish(Pending &p);
	int short_chunks(ainftp_req *r, int64_t n, uint64_t *missing) const;

	c10::intrusive_ptr<c10d::ProcessGroup> gloo_;
	ainftp_client *client_ = nullptr;
	const JobShape shape_;
	const Tolerance tol_;

	std::mutex mu_; /* the queue, stop_ and the counters below */
	std::condition_variable cv_;
	std::deque<Pending> queue_;
	bool stop_ = false;
	uint64_t allreduces_ = 0, elements_ = 0, delegated_ = 0, overflows_ = 0, partials_ = 0;
	uint64_t copies_ = 0;
	std::thread waiter_;
};

static std::string
client_error(const std::string &what)
{
	return "ainftp: " + what + ": " + ainftp_last_error();
}

ainftp_client *
ProcessGroupAinftp::open_client(const std::string &config, uint32_t job, uint16_t worker,
				const std::map<std::string, std::string> &options)
{
	ainftp_opts *o = ainftp_opts_new();
	if (o == nullptr)
		throw std::bad_alloc();
	std::string err;
	if (ainftp_opts_from_cluster(o, config.c_str(), job, worker) < 0)
		err = client_error(config);
	for (auto it = options.begin(); err.empty() && it != options.end(); ++it)
		if (ainftp_opts_set(o, it->first.c_str(), it->second.c_str()) < 0)
			err = client_error("option " + it->first);
	ainftp_client *c = nullptr;
	if (err.empty() && ainftp_client_open(o, &c) < 0)
		err = client_error("job " + std::to_string(job) + ", worker " +
				   std::to_string(worker));
	ainftp_opts_free(o);
	if (!err.empty())
		throw std::runtime_error(err);
	return c;
}

/*
 * SUM and AVG of floating-point tensors go through the appliance; anything
 * else (MAX, PRODUCT, integers, bool, complex) is Gloo's. Every rank decides
 * the same way, since collectives match in op and dtype across ranks.
 */
bool
ProcessGroupAinftp::through_box(const std::vector<at::Tensor> &tensors, c10d::ReduceOp op,
				int *ainftp_op) const
{
	if (op == c10d::ReduceOp::SUM)
		*ainftp_op = AINFTP_OP_SUM;
	else if (op == c10d::ReduceOp::AVG)
		*ainftp_op = AINFTP_OP_MEAN;
	else
		return false;
	for (const at::Tensor &t : tensors)
		if (!at::isFloatingType(t.scalar_type()))
			return false;
	return true;
}

c10::intrusive_ptr<c10d::Work>
ProcessGroupAinftp::allreduce(std::vector<at::Tensor> &tensors, const c10d::AllreduceOptions &opts)
{
	int op;
	if (!through_box(tensors, opts.reduceOp, &op)) {
		std::lock_guard<std::mutex> g(mu_);
		delegated_++;
		return gloo_->allreduce(tensors, opts);
	}
	return start(tensors, op);
}

/* Coalesced: the same requests, one per tensor, in one Work. */
c10::intrusive_ptr<c10d::Work>
ProcessGroupAinftp::allreduce_coalesced(std::vector<at::Tensor> &tensors,
					const c10d::AllreduceCoalescedOptions &opts)
{
	int op;
	if (!through_box(tensors, opts.reduceOp, &op)) {
		std::lock_guard<std::mutex> g(mu_);
		delegated_++;
		return gloo_->allreduce_coalesced(tensors, opts);
	}
	return start(tensors, op);
}

/* The float32 host tensor the library writes: t itself when it can be. */
static at::Tensor
host_float32(const at::Tensor &t, bool *copied)
{
	*copied = !(t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous());
	if (!*copied)
		return t;
	at::NoGradGuard no_grad;
	return t.detach()
		.to(at::kCPU, at::kFloat, /*non_blocking=*/false, /*copy=*/true)
		.contiguous();
}

/*
 * Start a request per tensor under the lock, so that the requests of two
 * threads' calls keep one order in the client and in the waiter's queue.
 */
c10::intrusive_ptr<c10d::Work>
ProcessGroupAinftp::start(std::vector<at::Tensor> &tensors, int op)
{
	Pending p;
	p.user = tensors;
	p.work = c10::make_intrusive<WorkAinftp>(getRank(), tensors);
	uint64_t copies = 0;
	for (const at::Tensor &t : tensors) {
		bool copied;
		p.host.push_back(host_float32(t, &copied));
		copies += copied;
	}
	std::unique_lock<std::mutex> g(mu_);
	if (stop_)
		throw std::runtime_error("ainftp: the process group is shut down");
	copies_ += copies;
	for (at::Tensor &h : p.host) {
		/*
		 * An empty tensor is summed already; the library refuses a
		 * request of nothing. Every rank skips it: sizes agree.
		 */
		ainftp_req *r = nullptr;
		if (h.numel() == 0)
			continue;
		if (ainftp_allreduce_start(client_, h.data_ptr<float>(), (size_t)h.numel(), op,
					   &r) < 0) {
			std::string err = client_error("all_reduce of " +
						       std::to_string(h.numel()) + " elements");
			g.unlock();
			for (auto &q : p.reqs)
				ainftp_req_free(q.first); /* waits: they use the buffers */
			throw std::runtime_error(err);
		}
		p.reqs.emplace_back(r, h.numel());
	}
	c10::intrusive_ptr<c10d::Work> work = p.work;
	queue_.push_back(std::move(p));
	g.unlock();
	cv_.notify_one();
	return work;
}

/*
 * The chunks of a completed request whose sum lacks some of the job's
 * workers (left out by the quorum); *missing: who. -1 when it cannot say.
 */
int
ProcessGroupAinftp::short_chunks(ainftp_req *r, int64_t n, uint64_t *missing) const
{
	std::vector<uint64_t> bitmaps((size_t)((n + shape_.elems - 1) / shape_.elems));
	uint32_t step;
	int k = 0;

	*missing = 0;
	if (ainftp_req_info(r, &step, bitmaps.data(), bitmaps.size()) < 0)
		return -1;
	for (uint64_t b : bitmaps)
		if (b != shape_.everyone) {
			*missing |= shape_.everyone & ~b;
			k++;
		}
	return k;
}

static std::string
worker_list(uint64_t mask)
{
	std::string s;
	for (int w = 0; w < 64; w++)
		if (mask >> w & 1)
			s += (s.empty() ? "" : ", ") + std::to_string(w);
	return s;
}

/* Wait for p's requests; "" when its tensors hold the result, else why not. */
std::string
ProcessGroupAinftp::finish(Pending &p)
{
	std::string err;
	uint64_t overflows = 0, partials = 0, elements = 0;
	const std::string what_job = " (job " + std::to_string(shape_.job) + ", worker " +
				     std::to_string(shape_.worker) + "): ";
	for (auto &q : p.reqs) {
		int st = ainftp_req_wait(q.first);
		std::string what = "ainftp: all_reduce of " + std::to_string(q.second) +
				   " elements" + what_job;
		uint64_t missing;
		int k;
		if (st == AINFTP_E_OVERFLOW && tol_.accept_overflow)
			st = 0, overflows++;
		/* This rank's chunks skipped, or another rank's: one partial result. */
		bool skipped = st == AINFTP_E_SKIPPED;
		if (skipped && tol_.accept_partial)
			st = 0;
		if (st < 0) {
			if (err.empty())
				err = what + ainftp_req_error(q.first) + " [" +
				      ainftp_status_name(st) + "]";
		} else if (skipped || (k = short_chunks(q.first, q.second, &missing)) != 0) {
			if (tol_.accept_partial)
				partials++;
			else if (err.empty() && k < 0)
				err = what + "its contributors are not known";
			else if (err.empty())
				err = what + std::to_string(k) +
				      " chunks were summed without worker(s) " +
				      worker_list(missing) +
				      ", left out by the job's quorum: all_reduce is over every "
				      "rank, so give the job \"straggler\": {\"min_quorum\": " +
				      std::to_string(getSize()) +
				      "} in cluster.json, or accept_partial=True";
		}
		elements += (uint64_t)q.second;
		ainftp_req_free(q.first);
	}
	p.reqs.clear();
	if (err.empty())
		for (size_t i = 0; i < p.user.size(); i++)
			if (!p.host[i].is_same(p.user[i]))
				copy_back(p.user[i], p.host[i]);
	std::lock_guard<std::mutex> g(mu_);
	overflows_ += overflows;
	partials_ += partials;
	if (err.empty()) {
		allreduces_++;
		elements_ += elements;
	}
	return err;
}

/*
 * Complete Works in start order. The Future's callbacks (DDP's, a Python
 * then()) run here, without the lock.
 */
void
ProcessGroupAinftp::wait_loop()
{
	for (;;) {
		Pending p;
		{
			std::unique_lock<std::mutex> g(mu_);
			cv_.wait(g, [this] { return stop_ || !queue_.empty(); });
			if (queue_.empty())
				return;
			p = std::move(queue_.front());
			queue_.pop_front();
		}
		std::string err;
		try {
			err = finish(p);
		} catch (const std::exception &e) { /* a copy back to a GPU that failed */
			err = std::string("ainftp: all_reduce: ") + e.what();
		}
		if (err.empty())
			p.work->succeed();
		else
			p.work->fail(err);
	}
}

std::map<std::string, uint64_t>
ProcessGroupAinftp::stats()
{
	ainftp_client_stats s{};
	if (ainftp_client_get_stats(client_, &s) < 0)
		throw std::runtime_error(client_error("stats"));
	std::lock_guard<std::mutex> g(mu_);
	return {
		{"allreduces", allreduces_},
		{"elements", elements_},
		{"delegated", delegated_},
		{"host_copies", copies_},
		{"overflows", overflows_},
		{"partials", partials_},
		{"requests", s.requests},
		{"chunks", s.chunks},
		{"packets_sent", s.packets_sent},
		{"retransmits", s.retransmits},
		{"results", s.results},
		{"bytes_sent", s.bytes_sent},
		{"bytes_received", s.bytes_received},
		{"chunks_skipped", s.chunks_skipped},
		{"srtt_us", s.srtt_us},
	};
}

} // namespace ainftp_c10d

PYBIND11_MODULE(_c10d, m)
{
	using ainftp_c10d::ProcessGroupAinftp;
	m.doc() = "ainftp's torch.distributed backend (see ainftp.torch)";
	/* The base class is torch's: its binding must be loaded first. */
	py::module_::import("torch.distributed");
	py::class_<ProcessGroupAinftp, c10d::ProcessGroup, c10::intrusive_ptr<ProcessGroupAinftp>>(
		m, "ProcessGroupAinftp")
		.def(py::init([](int rank, int size, c10::intrusive_ptr<c10d::ProcessGroup> gloo,
				 const std::string &config, uint32_t job,
				 const std::vector<uint16_t> &workers, uint32_t elems,
				 const std::map<std::string, std::string> &options,
				 bool accept_overflow, bool accept_partial) {
			     ainftp_c10d::JobShape shape{job, 0, elems, 0};
			     if (rank < 0 || (size_t)rank >= workers.size() || elems == 0)
				     throw std::invalid_argument(
					     "ainftp: rank " + std::to_string(rank) +
					     " is not one of the job's workers");
			     for (uint16_t w : workers) {
				     if (w > 63)
					     throw std::invalid_argument("ainftp: worker id " +
									 std::to_string(w) +
									 " is not in 0..63");
				     shape.everyone |= 1ULL << w;
			     }
			     shape.worker = workers[(size_t)rank];
			     /* Opening the client waits for the appliance's answer. */
			     py::gil_scoped_release nogil;
			     return c10::make_intrusive<ProcessGroupAinftp>(
				     rank, size, std::move(gloo), config, shape, options,
				     ainftp_c10d::Tolerance{accept_overflow, accept_partial});
		     }),
		     py::arg("rank"), py::arg("size"), py::arg("gloo"), py::arg("config"),
		     py::arg("job"), py::arg("workers"), py::arg("elems"), py::arg("options"),
		     py::arg("accept_overflow"), py::arg("accept_partial"))
		.def("stats", &ProcessGroupAinftp::stats, py::call_guard<py::gil_scoped_release>())
		.def_property_readonly("gloo", &ProcessGroupAinftp::gloo)
		.def_property_readonly("job", &ProcessGroupAinftp::job)
		.def_property_readonly("worker", &ProcessGroupAinftp::worker);
}
