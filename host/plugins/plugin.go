package plugins

import (
	"context"
	"fmt"
	"sync"
	"time"

	pluginv1 "github.com/cajonfarm/cajon/sdk/proto/cajon/plugin/v1"
)

// Plugin is one plugin binary and its current process, if any.
type Plugin struct {
	name string
	path string
	reg  *Registry

	// starting lets one acquire at a time start the plugin; the others wait
	// for it and use what it started. It is held across a launch, so nothing
	// else takes it: lookups and status reports only take mu.
	starting chan struct{}

	mu   sync.Mutex
	cur  *instance                  // nil when not running
	info *pluginv1.DescribeResponse // latest description
	// lost: the last process crashed or was killed, so the next start is
	// a restart (for the observer).
	lost bool
	// refused is the description of a version of the binary whose commands
	// conflict with another plugin's; it is not started again while the
	// conflict lasts.
	refused *refusal
}

// refusal is a binary version that was started once and refused.
type refusal struct {
	stamp fileStamp
	info  *pluginv1.DescribeResponse
}

func newPlugin(r *Registry, name, path string) *Plugin {
	return &Plugin{name: name, path: path, reg: r, starting: make(chan struct{}, 1)}
}

// running returns the current instance, nil when the plugin is not running.
func (p *Plugin) running() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// describe returns the latest description of the plugin.
func (p *Plugin) describe() *pluginv1.DescribeResponse {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// acquire returns a running instance for one run, starting the plugin when it
// is not running, has crashed, or its binary changed on disk. Every
// successful acquire must be paired with release(inst).
func (p *Plugin) acquire(ctx context.Context) (*instance, error) {
	if inst, err := p.reuse(); inst != nil || err != nil {
		return inst, err
	}
	select {
	case p.starting <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %s: gave up waiting for it to start: %w", p.name, ctx.Err())
	}
	defer func() { <-p.starting }()
	// Another acquire may have started it while this one waited.
	if inst, err := p.reuse(); inst != nil || err != nil {
		return inst, err
	}
	return p.start(ctx)
}

// reuse returns the current instance for one more run, or nil when there is
// none to use: not started, exited, or its binary changed on disk (then it is
// retired: it finishes its runs and stops).
func (p *Plugin) reuse() (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst := p.cur
	if inst == nil {
		return nil, nil
	}
	stamp, err := stampOf(p.path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("plugin %s: binary %s is gone: %w", p.name, p.path, err)
	case inst.exited():
		p.reg.log.Warn("plugin had exited; starting it again", "plugin", p.name)
		p.reg.crashed(p.name)
		inst.hold.release() // Windows: whatever the dead plugin left in its job goes
		p.cur, p.lost = nil, true
		return nil, nil
	case stamp != inst.stamp:
		p.reg.log.Info("plugin binary changed on disk; starting the new one", "plugin", p.name, "path", p.path)
		p.retireLocked(inst)
		p.cur = nil
		return nil, nil
	}
	inst.use()
	return inst, nil
}

// start launches the plugin binary; the caller holds p.starting. A version
// whose commands conflict with another plugin's is stopped again and refused,
// now and at every later acquire, until the binary or the other plugin
// changes.
func (p *Plugin) start(ctx context.Context) (*instance, error) {
	stamp, err := stampOf(p.path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: binary %s is gone: %w", p.name, p.path, err)
	}
	p.mu.Lock()
	refused, lost := p.refused, p.lost
	p.mu.Unlock()
	if refused != nil && refused.stamp == stamp {
		// Judged again without starting it: the other plugin may have changed.
		if err := p.reg.adopt(p, refused.info); err != nil {
			return nil, err
		}
	}
	// The binary may have changed since the registry opened: judge it again.
	if err := checkFileModes(p.path); err != nil {
		return nil, err
	}
	secure, err := secureConfig(p.name, p.reg.opts.SHA256)
	if err != nil {
		return nil, err
	}
	inst, err := startInstance(ctx, p.name, p.path, secure, p.reg.opts.ProcessLogger.Named(p.name), p.reg.runDirPath(), p.reg.opts.OOMScoreAdjust)
	if err != nil {
		return nil, err
	}
	p.reg.started(p.name, lost)
	if inst.info.GetName() != p.name {
		inst.kill(ctx)
		return nil, fmt.Errorf("plugin binary %s says its name is %q; rename the file to cajon-plugin-%s", p.path, inst.info.GetName(), inst.info.GetName())
	}
	// While the registry opens, its command map is built once at the end.
	if p.reg.plugins[p.name] == p {
		if err := p.reg.adopt(p, inst.info); err != nil {
			inst.stop()
			p.mu.Lock()
			p.refused, p.lost = &refusal{stamp: inst.stamp, info: inst.info}, false
			p.mu.Unlock()
			return nil, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur, p.info, p.lost, p.refused = inst, inst.info, false, nil
	inst.use()
	return inst, nil
}

// release marks one run on inst as done and arms the idle timer.
func (p *Plugin) release(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(inst)
}

func (p *Plugin) releaseLocked(inst *instance) {
	inst.mu.Lock()
	inst.active--
	idle := inst.active == 0
	retire := inst.retire
	inst.mu.Unlock()
	if !idle {
		return
	}
	if retire {
		go inst.stop()
		return
	}
	if p.reg.opts.IdleTimeout <= 0 {
		return
	}
	inst.mu.Lock()
	if inst.idle != nil {
		inst.idle.Stop()
	}
	inst.idle = time.AfterFunc(p.reg.opts.IdleTimeout, func() { p.stopIfIdle(inst) })
	inst.mu.Unlock()
}

// retireLocked stops inst once its runs end: a replaced binary's old process
// finishes what it is doing.
func (p *Plugin) retireLocked(inst *instance) {
	inst.mu.Lock()
	inst.retire = true
	busy := inst.active > 0
	inst.mu.Unlock()
	if !busy {
		go inst.stop()
	}
}

func (p *Plugin) stopIfIdle(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	inst.mu.Lock()
	idle := inst.active == 0
	inst.mu.Unlock()
	if !idle || p.cur != inst {
		return
	}
	p.reg.log.Debug("stopping idle plugin", "plugin", p.name, "idle_timeout", p.reg.opts.IdleTimeout)
	p.cur = nil
	go inst.stop()
}

// forget drops a dead or killed instance so the next run starts a new one.
func (p *Plugin) forget(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == inst {
		p.cur, p.lost = nil, true
	}
}

func (p *Plugin) process() (Process, bool) {
	p.mu.Lock()
	inst := p.cur
	p.mu.Unlock()
	if inst == nil {
		return Process{}, false
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return Process{Plugin: p.name, PID: inst.pid, Active: inst.active, Up: time.Since(inst.started)}, true
}

func (p *Plugin) close() {
	// A start in progress ends first, so its process is stopped too.
	p.starting <- struct{}{}
	defer func() { <-p.starting }()
	p.mu.Lock()
	inst := p.cur
	p.cur = nil
	p.mu.Unlock()
	if inst != nil {
		inst.stop()
	}
}

func (i *instance) use() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.active++
	if i.idle != nil {
		i.idle.Stop()
		i.idle = nil
	}
}

// alone reports whether inst runs one command at most: then every process
// below it belongs to that command.
func (i *instance) alone() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.active <= 1
}
