package runner

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greetspec/greetspec/core/host"
	"github.com/greetspec/greetspec/specs"
	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
)

// NotClaimedPrefix starts the skip message of a spec that a lane did not
// run because another lane claimed it (or it is outside the shard). Such
// specs are dropped when the lanes' reports are merged.
const NotClaimedPrefix = "greetspec-lane: not claimed #"

// laneConfig is what the parent hands each lane, as a JSON file.
type laneConfig struct {
	Settings    specs.Config
	PluginLog   bool
	Suite       types.SuiteConfig
	Description string
	Socket      string
	Dir         string
	// Pins are the plugin references' pinned SHA-256 sums (hex), checked
	// at each launch in the lane as in the parent (host.PinSHA256).
	Pins map[string]string
	// Prelaunch names the roles whose plugins the lane launches at once.
	Prelaunch []string
	// Timelines asks for each passed spec's node-event timeline: only a
	// report file (JSON, JUnit, TeamCity) or a verbose console shows it.
	// Without it a lane drops the timeline of a spec that passed or was
	// skipped, which is three quarters of what a lane sends.
	Timelines bool
}

// request is a lane's message to the parent; response is the answer.
type request struct {
	// Kind is "claim" (may this lane run spec Ordinal?) or "done" (the
	// claimed spec's report).
	Kind    string
	Lane    int
	Ordinal int
	Text    string
	Report  *types.SpecReport `json:",omitempty"`
}

type response struct {
	Granted bool
	// Taken lists later ordinals that other lanes have claimed (or that are
	// outside the shard): the lane skips them without asking.
	Taken []int `json:",omitempty"`
}

// laneClient is this process's connection to the parent, when it is a lane.
type laneClient struct {
	mu        sync.Mutex
	lane      int
	enc       *json.Encoder
	dec       *json.Decoder
	next      int            // ordinal of the next spec to reach the claim hook
	claimed   map[int]bool   // ordinals this lane runs
	taken     map[int]bool   // ordinals the parent said are not this lane's
	ordinals  map[string]int // specKey -> ordinal, for the specs it runs
	current   int            // ordinal of the spec now running, -1 if none
	outbox    chan request   // reports on their way to the parent
	sent      chan struct{}  // closed when the outbox is empty and closed
	flushOnce sync.Once
}

// send writes the reports of the outbox to the parent, which does not
// answer them: a lane goes on with its next spec while its last report is
// encoded and written.
func (c *laneClient) send() {
	defer close(c.sent)
	for r := range c.outbox {
		r.Lane = c.lane
		c.mu.Lock()
		err := c.enc.Encode(r)
		c.mu.Unlock()
		if err != nil {
			fmt.Fprintln(os.Stderr, "greetspec lane: lost the parent:", err)
			os.Exit(3)
		}
	}
}

// flush waits until every report was written.
func (c *laneClient) flush() {
	c.flushOnce.Do(func() { close(c.outbox) })
	<-c.sent
}

func (c *laneClient) ask(r request) (response, error) {
	r.Lane = c.lane
	c.mu.Lock()
	defer c.mu.Unlock()
	var resp response
	if err := c.enc.Encode(r); err != nil {
		return resp, err
	}
	err := c.dec.Decode(&resp)
	return resp, err
}

// active is set in a lane process; nil everywhere else, where the hooks
// below do nothing.
var active *laneClient

// The claim hook is the outermost BeforeEach: each spec that reaches it is
// numbered in run order (identical in every lane: same seed, same filters)
// and asks the parent whether this lane runs it.
var _ = BeforeEach(func() {
	c := active
	if c == nil {
		return
	}
	ord := c.next
	c.next++
	c.current = -1
	if c.taken[ord] {
		Skip(NotClaimedPrefix + strconv.Itoa(ord))
	}
	resp, err := c.ask(request{Kind: "claim", Ordinal: ord, Text: CurrentSpecReport().FullText()})
	if err != nil {
		// The parent is gone: nothing this lane runs would be reported.
		fmt.Fprintln(os.Stderr, "greetspec lane: lost the parent:", err)
		os.Exit(3)
	}
	for _, o := range resp.Taken {
		c.taken[o] = true
	}
	if !resp.Granted {
		Skip(NotClaimedPrefix + strconv.Itoa(ord))
	}
	c.claimed[ord] = true
	c.current = ord
	c.ordinals[specKey(CurrentSpecReport())] = ord
})

// The report hook streams each claimed spec's report to the parent as soon
// as it is complete, so a lane that dies later loses nothing it finished.
var _ = ReportAfterEach(func(r SpecReport) {
	c := active
	if c == nil || c.current < 0 || !c.claimed[c.current] {
		return
	}
	ord := c.current
	c.current = -1
	if !keepTimelines && !r.State.Is(types.SpecStateFailureStates) {
		r.SpecEvents = nil
	}
	c.outbox <- request{Kind: "done", Ordinal: ord, Text: r.FullText(), Report: &r}
})

// reportPath is where this lane writes its report at the end.
var reportPath string

// keepTimelines is the lane's laneConfig.Timelines.
var keepTimelines bool

// The lane's report at the end gives the run order, the filtered specs and
// the suite nodes. The specs this lane ran were streamed already; here they
// become not-claimed markers too, so the report stays small (captured
// output and plugin logs travel once) and every spec is merged one way. A
// spec another lane claimed is reduced to the same marker: its skip's
// stack trace and timeline were most of a lane's report, which the parent
// reads only for the run order.
var _ = ReportAfterSuite("greetspec lane report", func(r Report) {
	c := active
	if c == nil {
		return
	}
	c.flush()
	slim := r
	slim.SpecReports = nil
	for _, sr := range r.SpecReports {
		ord, ok := c.ordinals[specKey(sr)]
		ok = ok && c.claimed[ord]
		if !ok && sr.State == types.SpecStateSkipped {
			ord, ok = claimOrdinal(sr.Failure.Message)
		}
		if ok && sr.LeafNodeType == types.NodeTypeIt {
			sr = types.SpecReport{
				ContainerHierarchyTexts:     sr.ContainerHierarchyTexts,
				ContainerHierarchyLocations: sr.ContainerHierarchyLocations,
				ContainerHierarchyLabels:    sr.ContainerHierarchyLabels,
				LeafNodeType:                sr.LeafNodeType,
				LeafNodeLocation:            sr.LeafNodeLocation,
				LeafNodeText:                sr.LeafNodeText,
				LeafNodeLabels:              sr.LeafNodeLabels,
				State:                       types.SpecStateSkipped,
				Failure:                     types.Failure{Message: NotClaimedPrefix + strconv.Itoa(ord)},
			}
		}
		slim.SpecReports = append(slim.SpecReports, sr)
	}
	// Compact JSON in the shape of Ginkgo's JSON report (a list of one
	// report): the parent reads it, no one else, and indenting it cost a
	// tenth of a lane's CPU.
	data, err := json.Marshal([]types.Report{slim})
	if err == nil {
		err = os.WriteFile(reportPath, data, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "greetspec lane: writing the report:", err)
	}
})

// specKey identifies a spec within one lane's run.
func specKey(sr types.SpecReport) string {
	return sr.LeafNodeLocation.String() + "\x00" + sr.FullText()
}

// laneT satisfies GinkgoTestingT in a lane.
type laneT struct{}

func (laneT) Fail() {}

// Lane runs this process as lane index of a parallel run: it reads the
// configuration file the parent wrote, runs the suite claiming specs from
// the parent, and writes its whole report to the run's directory. It
// returns the process's exit status: 0 when the suite ran (whatever its
// verdicts; the parent judges the merged report), 2 on a setup error.
func Lane(configPath string, index int) int {
	data, err := os.ReadFile(configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "greetspec lane:", err)
		return 2
	}
	var lc laneConfig
	if err := json.Unmarshal(data, &lc); err != nil {
		fmt.Fprintln(os.Stderr, "greetspec lane:", err)
		return 2
	}
	conn, err := net.Dial("unix", lc.Socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "greetspec lane:", err)
		return 2
	}
	defer conn.Close()
	active = &laneClient{lane: index, enc: json.NewEncoder(conn), dec: json.NewDecoder(conn), claimed: map[int]bool{}, taken: map[int]bool{}, ordinals: map[string]int{}, current: -1,
		outbox: make(chan request, 64), sent: make(chan struct{})}
	go active.send()

	for ref, sum := range lc.Pins {
		if err := host.PinSHA256(ref, sum); err != nil {
			fmt.Fprintln(os.Stderr, "greetspec lane:", err)
			return 2
		}
	}
	s := lc.Settings
	s.PluginLog = nil
	if lc.PluginLog {
		s.PluginLog = os.Stderr
	}
	specs.Settings = s
	specs.Prelaunch(lc.Prelaunch...)

	suite := lc.Suite
	suite.ParallelProcess, suite.ParallelTotal, suite.ParallelHost = 1, 1, ""
	reportPath = laneReportPath(lc.Dir, index)
	keepTimelines = lc.Timelines
	reporter := types.ReporterConfig{NoColor: true, Succinct: true}
	gomega.RegisterFailHandler(Fail)
	if suite.Timeout > 0 {
		// The suite timeout abandons the spec in flight like a signal.
		stop := time.AfterFunc(suite.Timeout, specs.MarkInterrupted)
		defer stop.Stop()
	}
	RunSpecs(laneT{}, lc.Description, suite, reporter)
	active.flush()
	specs.ClosePlugins()
	return 0
}

func laneReportPath(dir string, index int) string {
	return fmt.Sprintf("%s/lane-%d.json", dir, index)
}

// inShard reports whether a spec belongs to shard i of n (1-based): a hash
// of its full text, so the split does not depend on the run order.
func inShard(text string, i, n int) bool {
	if n <= 1 {
		return true
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(text))
	return int(h.Sum32()%uint32(n)) == i-1
}

// claimOrdinal parses the ordinal out of a not-claimed skip message.
func claimOrdinal(msg string) (int, bool) {
	rest, ok := strings.CutPrefix(msg, NotClaimedPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(rest))
	return n, err == nil
}
