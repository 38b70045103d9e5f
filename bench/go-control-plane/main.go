// The peer in Trellis's benchmark (issue 14, "A peer in the benchmark"): an
// ADS server on go-control-plane serving the resources Trellis encoded for the
// same run, byte for byte, so the comparison measures distribution, not
// translation. bench/peer-trellis-main.ts writes the dump (every resource's
// encoded bytes per type URL, and the edits' resources); this server decodes
// each into its Envoy type (go-control-plane caches typed messages) and serves
// it from one of go-control-plane's caches:
//
//	-cache snapshot: a SnapshotCache (ADS), one snapshot per node id, as its
//	                 users run it: an edit makes a new snapshot (only the
//	                 edited type gets a new version) and sets it for every node;
//	-cache linear:   a LinearCache per type behind a MuxCache: an edit updates
//	                 the resources it touches.
//
// go-control-plane re-encodes what it serves from the typed messages: the
// same messages (they decode equal), though not always the same bytes (Go
// writes oneof fields last and leaves proto3 defaults out), so the ready line
// reports both sizes.
//
// Control channel: stdout says "ready <port> <resources> <bytes in> <bytes
// served>" once
// listening on 127.0.0.1; each stdin line "apply <i>" applies the dump's edit i
// and answers "applied <i> <microseconds>". Exits when stdin closes (the
// benchmark went away). Built by scripts/setup-go-control-plane.sh.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/log"
	"github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	// The resource types the dump holds register themselves through these imports.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
)

// dump is the file bench/peer-trellis-main.ts writes: base64 (JSON []byte) of each encoded resource.
type dump struct {
	Types map[string][][]byte `json:"types"`
	Edits []struct {
		Name      string   `json:"name"`
		TypeURL   string   `json:"typeUrl"`
		Resources [][]byte `json:"resources"`
	} `json:"edits"`
}

type edit struct {
	typeURL   string
	resources map[string]types.Resource
}

// bytesIn and bytesOut total the dump's encodings and go-control-plane's own.
var bytesIn, bytesOut int

func decode(typeURL string, raw []byte) (string, types.Resource) {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		fail("type %s: %v", typeURL, err)
	}
	msg := mt.New().Interface()
	if err := proto.Unmarshal(raw, msg); err != nil {
		fail("decoding a %s: %v", typeURL, err)
	}
	again, err := cache.MarshalResource(msg)
	if err != nil {
		fail("re-encoding a %s: %v", typeURL, err)
	}
	bytesIn += len(raw)
	bytesOut += len(again)
	return cache.GetResourceName(msg), msg
}

func decodeAll(typeURL string, list [][]byte) map[string]types.Resource {
	out := make(map[string]types.Resource, len(list))
	for _, raw := range list {
		name, res := decode(typeURL, raw)
		out[name] = res
	}
	return out
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "go-control-plane peer: "+format+"\n", args...)
	os.Exit(1)
}

// applier applies one edit to the cache it serves from.
type applier func(e edit)

func snapshotCache(initial map[string]map[string]types.Resource, nodes []string) (cache.Cache, applier) {
	sc := cache.NewSnapshotCache(true, cache.IDHash{}, log.LoggerFuncs{})
	versions := map[string]int{}
	snap := &cache.Snapshot{}
	for typeURL, items := range initial {
		versions[typeURL] = 1
		snap.Resources[cache.GetResponseType(typeURL)] = resourcesOf("1", items)
	}
	setAll := func(s *cache.Snapshot) {
		for _, node := range nodes {
			if err := sc.SetSnapshot(context.Background(), node, s); err != nil {
				fail("SetSnapshot %s: %v", node, err)
			}
		}
	}
	setAll(snap)
	current := initial
	return sc, func(e edit) {
		items := make(map[string]types.Resource, len(current[e.typeURL]))
		for name, r := range current[e.typeURL] {
			items[name] = r
		}
		for name, r := range e.resources {
			items[name] = r
		}
		current[e.typeURL] = items
		versions[e.typeURL]++
		// A new snapshot sharing the unedited types' resources: only the edited type has a new version.
		next := &cache.Snapshot{Resources: snap.Resources}
		next.Resources[cache.GetResponseType(e.typeURL)] = resourcesOf(strconv.Itoa(versions[e.typeURL]), items)
		snap = next
		setAll(snap)
	}
}

func resourcesOf(version string, items map[string]types.Resource) cache.Resources {
	list := make([]types.Resource, 0, len(items))
	for _, r := range items {
		list = append(list, r)
	}
	return cache.NewResources(version, list)
}

func linearCache(initial map[string]map[string]types.Resource) (cache.Cache, applier) {
	caches := map[string]*cache.LinearCache{}
	mux := &cache.MuxCache{
		Classify:      func(r *cache.Request) string { return r.GetTypeUrl() },
		ClassifyDelta: func(r *cache.DeltaRequest) string { return r.GetTypeUrl() },
		Caches:        map[string]cache.Cache{},
	}
	for typeURL, items := range initial {
		lc := cache.NewLinearCache(typeURL, cache.WithInitialResources(items), cache.WithLogger(log.LoggerFuncs{}))
		caches[typeURL] = lc
		mux.Caches[typeURL] = lc
	}
	return mux, func(e edit) {
		if err := caches[e.typeURL].UpdateResources(e.resources, nil); err != nil {
			fail("UpdateResources %s: %v", e.typeURL, err)
		}
	}
}

func main() {
	dumpPath := flag.String("dump", "", "the resources file bench/peer-trellis-main.ts wrote")
	mode := flag.String("cache", "snapshot", "snapshot | linear")
	nodes := flag.Int("nodes", 0, "SnapshotCache: node ids <prefix>0 .. <prefix>N-1 get a snapshot")
	prefix := flag.String("node-prefix", "", "SnapshotCache: node id prefix")
	flag.Parse()

	raw, err := os.ReadFile(*dumpPath)
	if err != nil {
		fail("reading the dump: %v", err)
	}
	var d dump
	if err := json.Unmarshal(raw, &d); err != nil {
		fail("%s: %v", *dumpPath, err)
	}
	initial := map[string]map[string]types.Resource{}
	count := 0
	for typeURL, list := range d.Types {
		initial[typeURL] = decodeAll(typeURL, list)
		count += len(list)
	}
	servedIn, servedOut := bytesIn, bytesOut
	edits := make([]edit, len(d.Edits))
	for i, e := range d.Edits {
		edits[i] = edit{typeURL: e.TypeURL, resources: decodeAll(e.TypeURL, e.Resources)}
	}

	var c cache.Cache
	var apply applier
	switch *mode {
	case "snapshot":
		ids := make([]string, *nodes)
		for i := range ids {
			ids[i] = *prefix + strconv.Itoa(i)
		}
		c, apply = snapshotCache(initial, ids)
	case "linear":
		c, apply = linearCache(initial)
	default:
		fail("-cache %q: not snapshot or linear", *mode)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	gs := grpc.NewServer(grpc.MaxConcurrentStreams(1 << 20))
	discovery.RegisterAggregatedDiscoveryServiceServer(gs, server.NewServer(context.Background(), c, nil))
	go func() {
		if err := gs.Serve(lis); err != nil {
			fail("serve: %v", err)
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %d %d %d %d\n", lis.Addr().(*net.TCPAddr).Port, count, servedIn, servedOut)
	out.Flush()

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) != 2 || f[0] != "apply" {
			fail("control: %q is not \"apply <i>\"", in.Text())
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= len(edits) {
			fail("control: no edit %q", f[1])
		}
		start := time.Now()
		apply(edits[i])
		fmt.Fprintf(out, "applied %d %d\n", i, time.Since(start).Microseconds())
		out.Flush()
	}
}
