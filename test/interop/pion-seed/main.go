// The seed's Go clients (seeds/000: Type2 receiver, Type1 sender) on a real pion v3, for interop tests
// against sdrlink's server and agents. The code follows the seed's: the same HTTP calls and JSON, the same
// polling (offer every second for 30 s, candidates every second, sessions every -poll), the same plain
// `file-metadata` + raw 16 KiB chunks. What differs, and why:
//
//   - ICE servers: none by default (-stun to add one); the seed's stun.l.google.com is unreachable offline.
//   - The receiver's `select {}` (it never returns, a trap DESIGN.md lists) is replaced by waiting for the
//     file, for the connection to fail or close, for an `error` signal from the provider (the seed ignores
//     signal types it does not know; this client logs it and ends — -ignore-error-signal keeps the seed's
//     behaviour, so only the connection state can end it), or for -timeout.
//   - The receiver takes the base name of the remote file name (the seed's path traversal, DESIGN.md).
//   - The sender waits for its send buffer to drain before closing (the seed closes at once and may drop
//     the tail) and handles one session with -once.
//   - A one-line JSON result on stdout: outcome and when ICE, DTLS, SCTP and the channel came up (ms since
//     start), so a test can tell "DTLS up, SCTP never" from an ICE failure.
//
// Built by test/helpers/pion.ts in GOPATH mode against Debian's golang-github-pion-webrtc.v3-dev.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pion/webrtc/v3"
)

type ICESession struct {
	ID          string `json:"session_id"`
	InitiatorID string `json:"initiator_user_id"`
	TargetID    string `json:"target_user_id"`
	RequestType string `json:"request_type"`
	Parameters  string `json:"parameters"`
	Status      string `json:"status"`
}

type SignalRequest struct {
	SessionID  string `json:"session_id"`
	SignalType string `json:"signal_type"`
	SignalData string `json:"signal_data"`
}

type SignalResponse struct {
	ID         int    `json:"id"`
	SessionID  string `json:"session_id"`
	SignalType string `json:"signal_type"`
	SignalData string `json:"signal_data"`
	FromClient string `json:"from_client_id"`
	ToClient   string `json:"to_client_id"`
}

// Result is the one JSON line printed on stdout at the end.
type Result struct {
	Role        string `json:"role"`
	OK          bool   `json:"ok"`
	Error       string `json:"error,omitempty"`
	EndedBy     string `json:"ended_by"`
	SessionID   string `json:"session_id,omitempty"`
	ElapsedMs   int64  `json:"elapsed_ms"`
	ICEMs       int64  `json:"ice_connected_ms"`
	DTLSMs      int64  `json:"dtls_connected_ms"`
	SCTPMs      int64  `json:"sctp_connected_ms"`
	ChannelMs   int64  `json:"channel_open_ms"`
	PCState     string `json:"pc_state"`
	PCFailedMs  int64  `json:"pc_failed_ms"`
	ErrorSignal string `json:"error_signal,omitempty"`
	ErrorSigMs  int64  `json:"error_signal_ms"`
	Bytes       int64  `json:"bytes"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256,omitempty"`
	Path        string `json:"path,omitempty"`
}

// clock records when each layer came up, in ms since start (-1: never).
type clock struct {
	mu    sync.Mutex
	start time.Time
	res   Result
}

func newClock(role string) *clock {
	return &clock{start: time.Now(), res: Result{Role: role, ICEMs: -1, DTLSMs: -1, SCTPMs: -1, ChannelMs: -1, PCFailedMs: -1, ErrorSigMs: -1}}
}

func (k *clock) mark(field *int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if *field < 0 {
		*field = time.Since(k.start).Milliseconds()
	}
}

func (k *clock) update(f func(r *Result)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f(&k.res)
}

func (k *clock) print(ok bool, endedBy string, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.res.OK = ok
	k.res.EndedBy = endedBy
	if err != nil {
		k.res.Error = err.Error()
	}
	k.res.ElapsedMs = time.Since(k.start).Milliseconds()
	line, _ := json.Marshal(k.res)
	fmt.Println(string(line))
}

// watch wires the state callbacks every peer connection gets; `ended` receives once on failed/closed.
func (k *clock) watch(pc *webrtc.PeerConnection, ended chan<- string) {
	var once sync.Once
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		log.Printf("ICE connection state: %s", s)
		if s == webrtc.ICEConnectionStateConnected {
			k.mark(&k.res.ICEMs)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		log.Printf("peer connection state: %s", s)
		k.update(func(r *Result) { r.PCState = s.String() })
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			k.mark(&k.res.PCFailedMs)
			once.Do(func() { ended <- "pc-" + s.String() })
		}
	})
	sctp := pc.SCTP()
	sctp.Transport().OnStateChange(func(s webrtc.DTLSTransportState) {
		log.Printf("DTLS transport state: %s", s)
		if s == webrtc.DTLSTransportStateConnected {
			k.mark(&k.res.DTLSMs)
		}
	})
	sctp.OnError(func(err error) { log.Printf("SCTP transport error: %v", err) })
}

type client struct {
	serverURL  string
	authToken  string
	httpClient *http.Client
	iceServers []webrtc.ICEServer
}

func (c *client) config() webrtc.Configuration {
	return webrtc.Configuration{ICEServers: c.iceServers}
}

func (c *client) do(method, path string, body interface{}, want int, out interface{}) error {
	var rd io.Reader
	if body != nil {
		jsonData, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("failed to marshal request: %w", err)
		}
		rd = bytes.NewBuffer(jsonData)
	}
	req, err := http.NewRequest(method, c.serverURL+path, rd)
	if err != nil {
		return fmt.Errorf("failed to create request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.authToken)
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("failed to send request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("server returned status %d", resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("failed to decode response: %w", err)
		}
	}
	return nil
}

func (c *client) sendSignal(sessionID, signalType, signalData string) error {
	return c.do("POST", "/api/ice/signal", SignalRequest{SessionID: sessionID, SignalType: signalType, SignalData: signalData}, http.StatusOK, nil)
}

func (c *client) getSignals(sessionID string) ([]SignalResponse, error) {
	var signals []SignalResponse
	err := c.do("GET", "/api/ice/signals/"+sessionID, nil, http.StatusOK, &signals)
	return signals, err
}

// waitForSignal polls every second for the first signal of `kind` (the seed's waitForOffer).
func (c *client) waitForSignal(sessionID, kind string, timeout time.Duration) (webrtc.SessionDescription, error) {
	deadline := time.After(timeout)
	ticker := time.NewTicker(1 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-deadline:
			return webrtc.SessionDescription{}, fmt.Errorf("timeout waiting for %s", kind)
		case <-ticker.C:
			signals, err := c.getSignals(sessionID)
			if err != nil {
				continue
			}
			for _, signal := range signals {
				if signal.SignalType == kind {
					var sd webrtc.SessionDescription
					if err := json.Unmarshal([]byte(signal.SignalData), &sd); err != nil {
						continue
					}
					return sd, nil
				}
			}
		}
	}
}

// handleICECandidates is the seed's loop (poll every second, add each candidate once); it also notes an
// `error` signal, which the seed would ignore, on `errSignal`.
func (c *client) handleICECandidates(sessionID string, pc *webrtc.PeerConnection, k *clock, errSignal chan<- string, stop <-chan struct{}) {
	ticker := time.NewTicker(1 * time.Second)
	defer ticker.Stop()
	processed := make(map[string]bool)
	sawError := false
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
			signals, err := c.getSignals(sessionID)
			if err != nil {
				continue
			}
			for _, signal := range signals {
				if signal.SignalType == "error" && !sawError {
					sawError = true
					log.Printf("error signal from the peer: %s", signal.SignalData)
					k.mark(&k.res.ErrorSigMs)
					k.update(func(r *Result) { r.ErrorSignal = signal.SignalData })
					errSignal <- signal.SignalData
					continue
				}
				if signal.SignalType != "candidate" {
					continue
				}
				key := fmt.Sprintf("%s-%s", signal.SignalData, signal.FromClient)
				if processed[key] {
					continue
				}
				processed[key] = true
				var candidate webrtc.ICECandidateInit
				if err := json.Unmarshal([]byte(signal.SignalData), &candidate); err != nil {
					log.Printf("Failed to unmarshal ICE candidate: %v", err)
					continue
				}
				if err := pc.AddICECandidate(candidate); err != nil {
					log.Printf("Failed to add ICE candidate: %v", err)
				}
			}
		}
	}
}

func (c *client) trickle(pc *webrtc.PeerConnection, sessionID func() string) {
	pc.OnICECandidate(func(candidate *webrtc.ICECandidate) {
		if candidate == nil {
			return
		}
		candidateData, err := json.Marshal(candidate.ToJSON())
		if err != nil {
			log.Printf("Failed to marshal ICE candidate: %v", err)
			return
		}
		if err := c.sendSignal(sessionID(), "candidate", string(candidateData)); err != nil {
			log.Printf("Failed to send ICE candidate: %v", err)
		}
	})
}

// ---- Type2 (receiver, initiator) ----

type received struct {
	bytes  int64
	size   int64
	sha256 string
	path   string
	err    error
}

func (c *client) runConsumer(k *clock, requestType, params, downloadDir string, timeout time.Duration, ignoreErrorSignal bool) {
	// RequestFileTransfer: the seed's payload.
	payload := map[string]interface{}{
		"request_type": requestType,
		"parameters":   params,
		"file_name":    fmt.Sprintf("%s_data.npz", requestType),
		"file_size":    0,
		"file_type":    "application/octet-stream",
	}
	var session ICESession
	if err := c.do("POST", "/api/ice/initiate", payload, http.StatusCreated, &session); err != nil {
		k.print(false, "initiate", fmt.Errorf("failed to request file transfer: %w", err))
		return
	}
	k.update(func(r *Result) { r.SessionID = session.ID })

	// EstablishConnection
	pc, err := webrtc.NewPeerConnection(c.config())
	if err != nil {
		k.print(false, "setup", fmt.Errorf("failed to create peer connection: %w", err))
		return
	}
	defer pc.Close()
	ended := make(chan string, 1)
	k.watch(pc, ended)
	c.trickle(pc, func() string { return session.ID })
	done := make(chan received, 1)
	pc.OnDataChannel(func(dataChannel *webrtc.DataChannel) {
		log.Printf("Data channel '%s' opened", dataChannel.Label())
		k.mark(&k.res.SCTPMs)
		dataChannel.OnOpen(func() { k.mark(&k.res.ChannelMs) })
		c.setupFileReception(dataChannel, downloadDir, done)
	})

	offer, err := c.waitForSignal(session.ID, "offer", 30*time.Second)
	if err != nil {
		k.print(false, "offer", fmt.Errorf("failed to get offer: %w", err))
		return
	}
	if err := pc.SetRemoteDescription(offer); err != nil {
		k.print(false, "setup", fmt.Errorf("failed to set remote description: %w", err))
		return
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		k.print(false, "setup", fmt.Errorf("failed to create answer: %w", err))
		return
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		k.print(false, "setup", fmt.Errorf("failed to set local description: %w", err))
		return
	}
	answerData, _ := json.Marshal(answer)
	if err := c.sendSignal(session.ID, "answer", string(answerData)); err != nil {
		k.print(false, "setup", fmt.Errorf("failed to send answer: %w", err))
		return
	}
	errSignal := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go c.handleICECandidates(session.ID, pc, k, errSignal, stop)

	// Instead of the seed's `select {}`.
	var errSig <-chan string = errSignal
	if ignoreErrorSignal {
		errSig = nil
	}
	deadline := time.After(timeout)
	for {
		select {
		case r := <-done:
			k.update(func(res *Result) { res.Bytes, res.Size, res.SHA256, res.Path = r.bytes, r.size, r.sha256, r.path })
			k.print(r.err == nil, "file", r.err)
			return
		case how := <-ended:
			k.print(false, how, fmt.Errorf("connection %s before the file arrived", how))
			return
		case msg := <-errSig:
			k.print(false, "error-signal", fmt.Errorf("provider reported: %s", msg))
			return
		case <-deadline:
			k.print(false, "timeout", fmt.Errorf("no file within %s", timeout))
			return
		}
	}
}

func (c *client) setupFileReception(dataChannel *webrtc.DataChannel, downloadDir string, done chan<- received) {
	var currentFile *os.File
	var currentFileSize, bytesReceived int64
	var path string
	h := sha256.New()
	finished := false
	finish := func(r received) {
		if !finished {
			finished = true
			done <- r
		}
	}
	dataChannel.OnClose(func() {
		finish(received{bytes: bytesReceived, size: currentFileSize, err: fmt.Errorf("data channel closed after %d bytes", bytesReceived)})
	})
	dataChannel.OnMessage(func(msg webrtc.DataChannelMessage) {
		if msg.IsString {
			var metadata map[string]interface{}
			if err := json.Unmarshal(msg.Data, &metadata); err != nil {
				log.Printf("Failed to unmarshal metadata: %v", err)
				return
			}
			if metadata["type"] == "file-metadata" {
				filename, _ := metadata["filename"].(string)
				size, _ := metadata["size"].(float64)
				log.Printf("Receiving file: %s (%d bytes)", filename, int64(size))
				path = filepath.Join(downloadDir, filepath.Base(filename))
				file, err := os.Create(path)
				if err != nil {
					finish(received{err: fmt.Errorf("failed to create file: %w", err)})
					return
				}
				currentFile, currentFileSize, bytesReceived = file, int64(size), 0
				h.Reset()
				if currentFileSize == 0 {
					currentFile.Close()
					currentFile = nil
					finish(received{size: 0, sha256: hex.EncodeToString(h.Sum(nil)), path: path})
				}
			}
			return
		}
		if currentFile == nil {
			log.Printf("Received file data but no file prepared")
			return
		}
		n, err := currentFile.Write(msg.Data)
		if err != nil {
			finish(received{err: fmt.Errorf("failed to write file chunk: %w", err)})
			return
		}
		h.Write(msg.Data[:n])
		bytesReceived += int64(n)
		if bytesReceived >= currentFileSize {
			log.Printf("File transfer completed: %d bytes received", bytesReceived)
			currentFile.Close()
			currentFile = nil
			finish(received{bytes: bytesReceived, size: currentFileSize, sha256: hex.EncodeToString(h.Sum(nil)), path: path})
		}
	})
}

// ---- Type1 (sender, responder) ----

func (c *client) runProvider(k *clock, dataDir string, poll, timeout time.Duration) {
	deadline := time.After(timeout)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		select {
		case <-deadline:
			k.print(false, "timeout", fmt.Errorf("no session within %s", timeout))
			return
		case <-ticker.C:
			var sessions []ICESession
			if err := c.do("GET", "/api/ice/sessions", nil, http.StatusOK, &sessions); err != nil {
				log.Printf("Failed to get active sessions: %v", err)
				continue
			}
			if len(sessions) == 0 {
				continue
			}
			// -once: the first session, to its end.
			session := sessions[0]
			k.update(func(r *Result) { r.SessionID = session.ID })
			how, err := c.handleRequest(k, session, dataDir, timeout)
			k.print(err == nil, how, err)
			return
		}
	}
}

func (c *client) handleRequest(k *clock, session ICESession, dataDir string, timeout time.Duration) (string, error) {
	var requestData map[string]interface{}
	if err := json.Unmarshal([]byte(session.Parameters), &requestData); err != nil {
		return "setup", fmt.Errorf("failed to parse request parameters: %w", err)
	}
	// generateSpectrum: the seed's 1 MiB of mock data.
	filePath := filepath.Join(dataDir, fmt.Sprintf("%s_mock.npz", session.RequestType))
	if err := os.WriteFile(filePath, make([]byte, 1024*1024), 0o644); err != nil {
		return "setup", fmt.Errorf("failed to generate data: %w", err)
	}
	pc, err := webrtc.NewPeerConnection(c.config())
	if err != nil {
		return "setup", fmt.Errorf("failed to create peer connection: %w", err)
	}
	defer pc.Close()
	ended := make(chan string, 1)
	k.watch(pc, ended)
	dataChannel, err := pc.CreateDataChannel("file-transfer", nil)
	if err != nil {
		return "setup", fmt.Errorf("failed to create data channel: %w", err)
	}
	dataChannelReady := make(chan struct{})
	dataChannel.OnOpen(func() {
		log.Println("Data channel opened")
		k.mark(&k.res.SCTPMs)
		k.mark(&k.res.ChannelMs)
		close(dataChannelReady)
	})
	c.trickle(pc, func() string { return session.ID })
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "setup", fmt.Errorf("failed to create offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return "setup", fmt.Errorf("failed to set local description: %w", err)
	}
	offerData, _ := json.Marshal(offer)
	if err := c.sendSignal(session.ID, "offer", string(offerData)); err != nil {
		return "setup", fmt.Errorf("failed to send offer: %w", err)
	}
	answer, err := c.waitForSignal(session.ID, "answer", 30*time.Second)
	if err != nil {
		return "answer", fmt.Errorf("failed to get answer: %w", err)
	}
	if err := pc.SetRemoteDescription(answer); err != nil {
		return "setup", fmt.Errorf("failed to set remote description: %w", err)
	}
	errSignal := make(chan string, 1)
	stop := make(chan struct{})
	defer close(stop)
	go c.handleICECandidates(session.ID, pc, k, errSignal, stop)

	select {
	case <-dataChannelReady:
		log.Println("Data channel ready, starting file transfer")
	case how := <-ended:
		return how, fmt.Errorf("connection %s before the data channel opened", how)
	case msg := <-errSignal:
		return "error-signal", fmt.Errorf("consumer reported: %s", msg)
	case <-time.After(30 * time.Second):
		return "timeout", fmt.Errorf("timeout waiting for data channel")
	}
	sent, err := sendFile(dataChannel, filePath)
	k.update(func(r *Result) { r.Bytes, r.Size = sent, 1024*1024 })
	if err != nil {
		return "send", err
	}
	// Not in the seed: let the buffered tail leave before the deferred Close drops it.
	for i := 0; i < 200 && dataChannel.BufferedAmount() > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	return "file", nil
}

func sendFile(dataChannel *webrtc.DataChannel, filePath string) (int64, error) {
	file, err := os.Open(filePath)
	if err != nil {
		return 0, fmt.Errorf("failed to open file: %w", err)
	}
	defer file.Close()
	fileInfo, err := file.Stat()
	if err != nil {
		return 0, fmt.Errorf("failed to get file info: %w", err)
	}
	metadata := map[string]interface{}{"filename": fileInfo.Name(), "size": fileInfo.Size(), "type": "file-metadata"}
	metadataJSON, _ := json.Marshal(metadata)
	if err := dataChannel.SendText(string(metadataJSON)); err != nil {
		return 0, fmt.Errorf("failed to send metadata: %w", err)
	}
	buffer := make([]byte, 16384) // 16KB chunks
	totalSent := int64(0)
	for {
		n, err := file.Read(buffer)
		if err != nil {
			if err == io.EOF {
				break
			}
			return totalSent, fmt.Errorf("failed to read file: %w", err)
		}
		if err := dataChannel.Send(buffer[:n]); err != nil {
			return totalSent, fmt.Errorf("failed to send chunk: %w", err)
		}
		totalSent += int64(n)
	}
	log.Printf("File transfer completed: %d bytes sent", totalSent)
	return totalSent, nil
}

func main() {
	role := flag.String("role", "consumer", "consumer (the seed's Type2) or provider (the seed's Type1, one session)")
	server := flag.String("server", os.Getenv("SDRLINK_SERVER"), "server URL (env SDRLINK_SERVER)")
	token := flag.String("token", os.Getenv("SDRLINK_TOKEN"), "JWT (env SDRLINK_TOKEN)")
	out := flag.String("out", ".", "consumer: download directory")
	data := flag.String("data", ".", "provider: data directory")
	requestType := flag.String("type", "spectrum", "consumer: request type")
	params := flag.String("params", `{"frequency_start":100000000,"frequency_end":200000000,"sample_rate":1000000}`, "consumer: parameters (JSON)")
	stun := flag.String("stun", "", "a STUN URL (default: none, host candidates only)")
	poll := flag.Duration("poll", 5*time.Second, "provider: session poll interval (the seed's 5 s)")
	timeout := flag.Duration("timeout", 120*time.Second, "give up after this long")
	ignoreErrorSignal := flag.Bool("ignore-error-signal", false, "consumer: ignore the provider's error signal, as the seed does")
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	log.SetOutput(os.Stderr)

	c := &client{serverURL: *server, authToken: *token, httpClient: &http.Client{Timeout: 30 * time.Second}}
	if *stun != "" {
		c.iceServers = []webrtc.ICEServer{{URLs: []string{*stun}}}
	}
	k := newClock(*role)
	switch *role {
	case "consumer":
		c.runConsumer(k, *requestType, *params, *out, *timeout, *ignoreErrorSignal)
	case "provider":
		c.runProvider(k, *data, *poll, *timeout)
	default:
		k.print(false, "setup", fmt.Errorf("unknown -role %q", *role))
	}
	k.mu.Lock()
	ok := k.res.OK
	k.mu.Unlock()
	if !ok {
		os.Exit(1)
	}
}
