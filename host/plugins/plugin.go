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

	mu   sync.Mutex
	cur  *instance                  // nil when not running
	info *pluginv1.DescribeResponse // latest description
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if inst := p.cur; inst != nil {
		stamp, err := stampOf(p.path)
		switch {
		case err != nil:
			return nil, fmt.Errorf("plugin %s: binary %s is gone: %w", p.name, p.path, err)
		case inst.exited():
			p.reg.log.Warn("plugin had exited; starting it again", "plugin", p.name)
			p.cur = nil
		case stamp != inst.stamp:
			p.reg.log.Info("plugin binary changed on disk; starting the new one", "plugin", p.name, "path", p.path)
			p.retireLocked(inst)
			p.cur = nil
		default:
			inst.use()
			return inst, nil
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
	inst, err := startInstance(ctx, p.name, p.path, secure, p.reg.opts.ProcessLogger.Named(p.name))
	if err != nil {
		return nil, err
	}
	if inst.info.GetName() != p.name {
		inst.kill(ctx)
		return nil, fmt.Errorf("plugin binary %s says its name is %q; rename the file to cajon-plugin-%s", p.path, inst.info.GetName(), inst.info.GetName())
	}
	changed := p.info != nil && !sameCommands(p.info, inst.info)
	p.cur, p.info = inst, inst.info
	inst.use()
	if changed && p.reg.plugins[p.name] == p {
		p.mu.Unlock()
		err := p.reg.rebuild()
		p.mu.Lock()
		if err != nil {
			p.releaseLocked(inst)
			return nil, err
		}
	}
	return inst, nil
}

func sameCommands(a, b *pluginv1.DescribeResponse) bool {
	if len(a.GetCommands()) != len(b.GetCommands()) {
		return false
	}
	for i := range a.GetCommands() {
		if a.GetCommands()[i].GetName() != b.GetCommands()[i].GetName() {
			return false
		}
	}
	return true
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
		p.cur = nil
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
