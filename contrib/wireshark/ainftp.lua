-- SPDX-License-Identifier: BSD-3-Clause
-- Wireshark dissector for the ainftp wire protocol, versions 1 and 2
-- (docs/PROTOCOL.md; lib/wire/ainftp_proto.h is the v2 reference).
--
--   tshark -X lua_script:contrib/wireshark/ainftp.lua -r capture.pcap
--   wireshark -X lua_script:contrib/wireshark/ainftp.lua
-- or copy this file into ~/.local/lib/wireshark/plugins/.
--
-- It takes UDP ports base_port .. base_port + lanes - 1 (preferences
-- "ainftp.base_port", default 47474, and "ainftp.lanes", default 16), and
-- datagrams on any other UDP port whose header and length are consistent
-- (a heuristic dissector: "ainftp_udp").
-- Written for the Lua API of Wireshark 4.0 (Debian 12).

local HDR_LEN = 32
local BODY_LEN = 16 -- HELLO, HELLO_ACK and STATE bodies (v2)
local TAG_LEN = 16
local WORKER_APPLIANCE = 0xffff

local DATA, RESULT, HEARTBEAT, HEARTBEAT_ACK = 1, 2, 3, 4
local HELLO, HELLO_ACK, STATE, PROBE = 5, 6, 7, 8

local F_AUTH, F_OVERFLOW, F_AGGREGATE = 0x01, 0x02, 0x04

-- The last type each version knows: v1 had 1..6, v2 added STATE and PROBE.
local MAX_TYPE = { [1] = HELLO_ACK, [2] = PROBE }

local type_names = {
	[DATA] = "DATA",
	[RESULT] = "RESULT",
	[HEARTBEAT] = "HEARTBEAT",
	[HEARTBEAT_ACK] = "HEARTBEAT_ACK",
	[HELLO] = "HELLO",
	[HELLO_ACK] = "HELLO_ACK",
	[STATE] = "STATE",
	[PROBE] = "PROBE",
}
local encoding_names = { [0] = "float32", [1] = "int16", [2] = "int8" }
local status_names = {
	[0] = "ok",
	[1] = "job",
	[2] = "worker",
	[3] = "elems_per_packet",
	[4] = "encoding",
	[5] = "result_encoding",
	[6] = "slots",
	[7] = "lanes",
	[8] = "auth",
	[9] = "shard",
}
local reason_names = { [0] = "none", [1] = "stale", [2] = "ahead", [3] = "missing", [4] = "have",
	[5] = "mismatch", [6] = "upstream" }
local slot_state_names = { [0] = "idle", [1] = "summing", [2] = "done" }

local p = Proto("ainftp", "ainftp in-network aggregation")

local f = {
	version = ProtoField.uint8("ainftp.version", "Version", base.DEC),
	type = ProtoField.uint8("ainftp.type", "Type", base.DEC, type_names),
	encoding = ProtoField.uint8("ainftp.encoding", "Encoding", base.DEC, encoding_names),
	flags = ProtoField.uint8("ainftp.flags", "Flags", base.HEX),
	auth = ProtoField.bool("ainftp.flags.auth", "AUTH (tagged)", 8, nil, F_AUTH),
	overflow = ProtoField.bool("ainftp.flags.overflow", "OVERFLOW", 8, nil, F_OVERFLOW),
	aggregate = ProtoField.bool("ainftp.flags.aggregate", "AGGREGATE", 8, nil, F_AGGREGATE),
	job = ProtoField.uint32("ainftp.job", "Job", base.DEC),
	worker = ProtoField.uint16("ainftp.worker", "Worker", base.DEC),
	elems = ProtoField.uint16("ainftp.elems", "Elements", base.DEC),
	step = ProtoField.uint32("ainftp.step", "Step", base.DEC),
	chunk = ProtoField.uint32("ainftp.chunk", "Chunk", base.DEC),
	slot = ProtoField.uint16("ainftp.slot", "Slot", base.DEC),
	scale_exp = ProtoField.int8("ainftp.scale_exp", "Scale exponent", base.DEC),
	contributors = ProtoField.uint8("ainftp.contributors", "Contributors", base.DEC),
	bitmap = ProtoField.uint64("ainftp.bitmap", "Bitmap", base.HEX),
	len = ProtoField.uint32("ainftp.len", "Bytes after the UDP header", base.DEC),
	expected_len = ProtoField.uint32("ainftp.expected_len", "Bytes the header calls for", base.DEC),
	payload = ProtoField.bytes("ainftp.payload", "Payload"),
	payload_len = ProtoField.uint32("ainftp.payload_len", "Payload length", base.DEC),
	int8_exponents = ProtoField.bytes("ainftp.int8.exponents", "Block exponents"),
	int8_values = ProtoField.bytes("ainftp.int8.values", "Values"),
	tag = ProtoField.bytes("ainftp.tag", "Tag (SipHash-2-4-128, or POLYVAL-AES-128 where the HELLO_ACK says so)"),
	hello_slots = ProtoField.uint32("ainftp.hello.slots", "Slots", base.DEC),
	hello_lanes = ProtoField.uint16("ainftp.hello.lanes", "Lanes", base.DEC),
	hello_result_encoding = ProtoField.uint8("ainftp.hello.result_encoding", "Result encoding",
		base.DEC, encoding_names),
	hello_status = ProtoField.uint8("ainftp.hello.status", "Status", base.DEC, status_names),
	hello_step = ProtoField.uint32("ainftp.hello.step", "Step", base.DEC),
	hello_auth = ProtoField.uint8("ainftp.hello.auth", "Auth (bit 0 tagged, 1 results tagged, 2 POLYVAL-AES-128)", base.HEX),
	hello_shard = ProtoField.uint8("ainftp.hello.shard", "Shard index", base.DEC),
	hello_shards = ProtoField.uint8("ainftp.hello.shards", "Shards (0: 1)", base.DEC),
	hello_pad = ProtoField.bytes("ainftp.hello.pad", "Padding"),
	part = ProtoField.uint8("ainftp.part", "Part", base.DEC),
	part_bpp = ProtoField.uint8("ainftp.part.bpp", "Blocks per part", base.DEC),
	part_first = ProtoField.uint16("ainftp.part.first_block", "First block", base.DEC),
	part_blocks = ProtoField.uint16("ainftp.part.blocks", "Blocks", base.DEC),
	part_desc = ProtoField.uint64("ainftp.part.desc", "Request descriptor", base.HEX),
	hello_nonce = ProtoField.uint64("ainftp.hello.nonce", "Nonce", base.HEX),
	req_elems = ProtoField.uint64("ainftp.req.elems", "Request elements", base.DEC),
	req_op = ProtoField.uint8("ainftp.req.op", "Request operation", base.DEC,
		{ [0] = "sum", [1] = "mean" }),
	state_slot_step = ProtoField.uint32("ainftp.state.slot_step", "Slot's step", base.DEC),
	state_slot_chunk = ProtoField.uint32("ainftp.state.slot_chunk", "Slot's chunk", base.DEC),
	state_next_step = ProtoField.uint32("ainftp.state.next_step", "Next step", base.DEC),
	state_reason = ProtoField.uint8("ainftp.state.reason", "Reason", base.DEC, reason_names),
	state_slot_state = ProtoField.uint8("ainftp.state.slot_state", "Slot state", base.DEC,
		slot_state_names),
	state_pad = ProtoField.bytes("ainftp.state.pad", "Padding"),
	unparsed = ProtoField.bytes("ainftp.unparsed", "Not dissected"),
}
p.fields = f

local e = {
	truncated = ProtoExpert.new("ainftp.expert.truncated", "Truncated", expert.group.MALFORMED,
		expert.severity.ERROR),
	trailing = ProtoExpert.new("ainftp.expert.trailing", "Trailing bytes",
		expert.group.MALFORMED, expert.severity.ERROR),
	version = ProtoExpert.new("ainftp.expert.version", "Unknown version",
		expert.group.PROTOCOL, expert.severity.WARN),
	type = ProtoExpert.new("ainftp.expert.type", "Unknown type", expert.group.PROTOCOL,
		expert.severity.WARN),
	encoding = ProtoExpert.new("ainftp.expert.encoding", "Unknown encoding",
		expert.group.PROTOCOL, expert.severity.WARN),
	elems = ProtoExpert.new("ainftp.expert.elems", "No elements", expert.group.PROTOCOL,
		expert.severity.WARN),
}
p.experts = { e.truncated, e.trailing, e.version, e.type, e.encoding, e.elems }

p.prefs.base_port = Pref.uint("Base UDP port", 47474, "The appliance's udp_port (lane 0)")
p.prefs.lanes = Pref.uint("Lanes", 16, "UDP ports base_port .. base_port + lanes - 1 are ainftp")

-- Payload bytes for n elements (ainftp_payload_len); nil for an unknown encoding.
local function payload_len(enc, n)
	if enc == 0 then
		return 4 * n
	elseif enc == 1 then
		return 2 * n
	elseif enc == 2 then
		return n + math.floor((n + 31) / 32)
	end
	return nil
end

local function known_type(version, t)
	return MAX_TYPE[version] ~= nil and t >= DATA and t <= MAX_TYPE[version]
end

-- A leaf's partial sum (DATA with AGGREGATE): its part's bytes, from the
-- part's own header (little-endian: part, bpp, first_block, n_blocks, pad,
-- desc), 16 bytes then per block exp, emax and 8 bytes per element.
local PART_HDR_LEN = 16
local function part_len(tvb, elems)
	if tvb:len() < HDR_LEN + PART_HDR_LEN then
		return nil
	end
	local first, nb = tvb(HDR_LEN + 2, 2):le_uint(), tvb(HDR_LEN + 4, 2):le_uint()
	local len = PART_HDR_LEN
	for b = first, first + nb - 1 do
		len = len + 8 + 8 * math.max(0, math.min(32, elems - 32 * b))
	end
	return len
end

-- The message's layout from its header: body, payload and tag lengths and
-- whether the tag comes right after the header. nil when the version, type or
-- encoding is unknown, so that nothing past the header can be placed.
local function layout(version, t, enc, flags, elems, tvb)
	if not known_type(version, t) then
		return nil
	end
	local l = { body = 0, payload = 0, tag = 0, tag_first = false }
	local tag = bit.band(flags, F_AUTH) ~= 0 and TAG_LEN or 0
	local worker_len = payload_len(enc, elems)
	-- As ainftp_hdr_check: an AGGREGATE DATA of a worker's DATA's length passes
	-- as one (the job refuses it: type, or a spine's length); else it is a part.
	if t == DATA and bit.band(flags, F_AGGREGATE) ~= 0 and tvb ~= nil and
		(worker_len == nil or tvb:len() ~= HDR_LEN + worker_len + tag) then
		l.payload = part_len(tvb, elems)
		l.part = true
		if l.payload == nil then
			return nil
		end
	elseif t == DATA or t == RESULT then
		l.payload = payload_len(enc, elems)
		if l.payload == nil then
			return nil
		end
	elseif version >= 2 and (t == HELLO or t == HELLO_ACK or t == STATE) then
		l.body = BODY_LEN
	end
	if bit.band(flags, F_AUTH) ~= 0 then
		l.tag = TAG_LEN
		-- v2 puts a RESULT's tag before the payload, which every worker's copy shares.
		l.tag_first = version >= 2 and t == RESULT
	end
	l.total = HDR_LEN + l.body + l.payload + l.tag
	return l
end

local function header_layout(tvb)
	return layout(tvb(0, 1):uint(), tvb(1, 1):uint(), tvb(2, 1):uint(), tvb(3, 1):uint(),
		tvb(10, 2):uint(), tvb)
end

local function add_header(tree, tvb)
	local version = tvb(0, 1):uint()
	local t = tvb(1, 1):uint()
	local h = tree:add(tvb(0, HDR_LEN), "Header")
	local vi = h:add(f.version, tvb(0, 1))
	if MAX_TYPE[version] == nil then
		vi:add_proto_expert_info(e.version, "Unknown version " .. version)
	end
	local ti = h:add(f.type, tvb(1, 1))
	if MAX_TYPE[version] ~= nil and not known_type(version, t) then
		ti:add_proto_expert_info(e.type, "Unknown type " .. t .. " in version " .. version)
	end
	local ei = h:add(f.encoding, tvb(2, 1))
	if tvb(2, 1):uint() > 2 then
		ei:add_proto_expert_info(e.encoding, "Unknown encoding " .. tvb(2, 1):uint())
	end
	local fl = h:add(f.flags, tvb(3, 1))
	fl:add(f.auth, tvb(3, 1))
	fl:add(f.overflow, tvb(3, 1))
	fl:add(f.aggregate, tvb(3, 1))
	h:add(f.job, tvb(4, 4))
	local wi = h:add(f.worker, tvb(8, 2))
	if tvb(8, 2):uint() == WORKER_APPLIANCE then
		wi:append_text(" (the appliance)")
	end
	local el = h:add(f.elems, tvb(10, 2))
	if (t == DATA or t == RESULT) and tvb(10, 2):uint() == 0 and MAX_TYPE[version] then
		el:add_proto_expert_info(e.elems, "DATA or RESULT without elements")
	end
	h:add(f.step, tvb(12, 4))
	h:add(f.chunk, tvb(16, 4))
	h:add(f.slot, tvb(20, 2))
	h:add(f.scale_exp, tvb(22, 1))
	h:add(f.contributors, tvb(23, 1))
	local bm = h:add(f.bitmap, tvb(24, 8))
	if t == HELLO or t == HELLO_ACK then
		-- In HELLO and HELLO_ACK the bitmap is the worker's nonce, echoed.
		bm:add(f.hello_nonce, tvb(24, 8))
	elseif version == 2 and (t == DATA or t == PROBE) and tvb(24, 8):uint64() ~= UInt64(0)
		and bit.band(tvb(3, 1):uint(), 4) == 0 then
		-- In DATA and PROBE, the request's descriptor: its operation and size (a
		-- leaf box's AGGREGATE sum has its workers there instead).
		bm:add(f.req_op, tvb(25, 1))
		bm:add(f.req_elems, tvb(26, 6), tvb(26, 6):uint64())
	end
end

-- Whether all len bytes of a part at off are there (a truncated datagram
-- shows the parts it has whole, and the payload as far as it goes).
local function fits(tvb, off, len)
	return off + len <= tvb:len()
end

local function add_payload(tree, tvb, off, len, enc, elems)
	local n = math.min(len, tvb:len() - off)
	if n <= 0 then
		return
	end
	local pl = tree:add(f.payload, tvb(off, n))
	pl:add(f.payload_len, len):set_generated()
	if enc == 2 then
		local ne = math.floor((elems + 31) / 32)
		if n >= ne then
			pl:add(f.int8_exponents, tvb(off, ne))
			if n > ne then
				pl:add(f.int8_values, tvb(off + ne, n - ne))
			end
		end
	end
end

local function add_hello(tree, tvb, off)
	local b = tree:add(tvb(off, BODY_LEN), "HELLO body")
	b:add(f.hello_slots, tvb(off, 4))
	b:add(f.hello_lanes, tvb(off + 4, 2))
	b:add(f.hello_result_encoding, tvb(off + 6, 1))
	b:add(f.hello_status, tvb(off + 7, 1))
	b:add(f.hello_step, tvb(off + 8, 4))
	b:add(f.hello_auth, tvb(off + 12, 1))
	b:add(f.hello_shard, tvb(off + 13, 1))
	b:add(f.hello_shards, tvb(off + 14, 1))
	b:add(f.hello_pad, tvb(off + 15, 1))
end

local function add_state(tree, tvb, off)
	local b = tree:add(tvb(off, BODY_LEN), "STATE body")
	b:add(f.state_slot_step, tvb(off, 4))
	b:add(f.state_slot_chunk, tvb(off + 4, 4))
	b:add(f.state_next_step, tvb(off + 8, 4))
	b:add(f.state_reason, tvb(off + 12, 1))
	b:add(f.state_slot_state, tvb(off + 13, 1))
	b:add(f.state_pad, tvb(off + 14, 2))
end

local function add_tag(tree, tvb, off)
	if fits(tvb, off, TAG_LEN) then
		tree:add(f.tag, tvb(off, TAG_LEN))
	end
end

-- Everything after the header, in the order of the layout.
local function add_rest(tree, tvb, l, t, enc, elems)
	local off = HDR_LEN
	if l.tag > 0 and l.tag_first then
		add_tag(tree, tvb, off)
		off = off + TAG_LEN
	end
	if l.payload > 0 and l.part then
		-- A leaf's partial sum: the part's header, then its blocks (exact sums).
		local pt = tree:add(tvb(off, math.min(l.payload, tvb:len() - off)), "Partial sum part")
		pt:add(f.part, tvb(off, 1))
		pt:add(f.part_bpp, tvb(off + 1, 1))
		pt:add_le(f.part_first, tvb(off + 2, 2))
		pt:add_le(f.part_blocks, tvb(off + 4, 2))
		-- The leaf's workers' request descriptor, as the header's of a worker's DATA.
		local di = pt:add_le(f.part_desc, tvb(off + 8, 8))
		if tvb(off + 8, 8):le_uint64() ~= UInt64(0) then
			di:add(f.req_op, tvb(off + 14, 1))
			di:add_le(f.req_elems, tvb(off + 8, 6), tvb(off + 8, 6):le_uint64())
		end
		off = off + l.payload
	elseif l.payload > 0 then
		add_payload(tree, tvb, off, l.payload, enc, elems)
		off = off + l.payload
	end
	if l.body > 0 and fits(tvb, off, BODY_LEN) then
		if t == STATE then
			add_state(tree, tvb, off)
		else
			add_hello(tree, tvb, off)
		end
	end
	off = off + l.body
	if l.tag > 0 and not l.tag_first then
		add_tag(tree, tvb, off)
	end
end

local function check_length(tree, tvb, l)
	local n = tvb:len()
	tree:add(f.expected_len, l.total):set_generated()
	if n < l.total then
		tree:add_proto_expert_info(e.truncated, string.format(
			"Truncated: %d bytes, the header calls for %d", n, l.total))
	elseif n > l.total then
		tree:add_tvb_expert_info(e.trailing, tvb(l.total, n - l.total), string.format(
			"%d trailing bytes: %d bytes, the header calls for %d", n - l.total, n, l.total))
	end
end

local function set_info(pinfo, tvb)
	local t = tvb(1, 1):uint()
	local w = tvb(8, 2):uint()
	local info = string.format("%s job=%d w=%s step=%d chunk=%d slot=%d",
		type_names[t] or ("type " .. t), tvb(4, 4):uint(),
		w == WORKER_APPLIANCE and "box" or tostring(w), tvb(12, 4):uint(),
		tvb(16, 4):uint(), tvb(20, 2):uint())
	if t == RESULT then
		info = info .. string.format(" contributors=%d", tvb(23, 1):uint())
	end
	local version = tvb(0, 1):uint()
	if version ~= 2 then
		info = info .. " (v" .. version .. ")"
	end
	pinfo.cols.info:set(info)
end

function p.dissector(tvb, pinfo, tree)
	pinfo.cols.protocol:set("ainftp")
	local root = tree:add(p, tvb())
	root:add(f.len, tvb:len()):set_generated()
	if tvb:len() < HDR_LEN then
		root:add_proto_expert_info(e.truncated, string.format(
			"Truncated: %d bytes, shorter than the %d-byte header", tvb:len(), HDR_LEN))
		pinfo.cols.info:set("ainftp truncated header")
		return tvb:len()
	end
	add_header(root, tvb)
	set_info(pinfo, tvb)
	local l = header_layout(tvb)
	if l == nil then
		if tvb:len() > HDR_LEN then
			root:add(f.unparsed, tvb(HDR_LEN))
		end
		return tvb:len()
	end
	add_rest(root, tvb, l, tvb(1, 1):uint(), tvb(2, 1):uint(), tvb(10, 2):uint())
	check_length(root, tvb, l)
	return tvb:len()
end

-- Any UDP datagram whose header is of a known version, type and encoding and
-- whose length is exactly what that header calls for.
local function heuristic(tvb, pinfo, tree)
	if tvb:len() < HDR_LEN then
		return false
	end
	local l = header_layout(tvb)
	if l == nil or l.total ~= tvb:len() then
		return false
	end
	local t = tvb(1, 1):uint()
	if (t == DATA or t == RESULT) and tvb(10, 2):uint() == 0 then
		return false
	end
	p.dissector(tvb, pinfo, tree)
	return true
end
p:register_heuristic("udp", heuristic)

local udp_port = DissectorTable.get("udp.port")
local registered = {}

local function register_ports()
	for _, port in ipairs(registered) do
		udp_port:remove(port, p)
	end
	registered = {}
	for lane = 0, p.prefs.lanes - 1 do
		local port = p.prefs.base_port + lane
		if port <= 65535 then
			udp_port:add(port, p)
			registered[#registered + 1] = port
		end
	end
end

function p.prefs_changed()
	register_ports()
end

register_ports()
