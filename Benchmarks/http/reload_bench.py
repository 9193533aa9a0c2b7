#!/usr/bin/env python3
# The pause reload_routes causes: 3000 SIP calls at 300/s (sipp uac -> switchyard -> sipp uas) and 20,000 ESL events
# (esl-simulator floods) with no reload, then with reload_routes over mi_http every 100 ms. Prints failed calls, the
# call-setup response times sipp measured, the events delivered, and the MI round trip of each reload.
# Usage: Benchmarks/http/reload_bench.py [scratch-dir]   (debug build; ports 29320-29325; needs sipp)
import subprocess, time, socket, json, urllib.request, threading, sys, os, csv, glob
D=sys.argv[1] if len(sys.argv) > 1 else '/tmp/sy-reload-bench'
REPO=os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
os.makedirs(D, exist_ok=True)
open(D + '/proxy.cfg', 'w').write(open(os.path.join(REPO, 'Benchmarks/http/reload_proxy.cfg')).read().replace('@BUILD@', os.path.join(REPO, '.build/debug')))
def mi(method, params=None):
    body=json.dumps({"jsonrpc":"2.0","method":method,"params":params or {},"id":1}).encode()
    t=time.time(); r=urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:29321/mi',data=body)).read(); return time.time()-t, json.loads(r)
def ctl(cmd):
    s=socket.create_connection(('127.0.0.1',29324)); s.sendall((cmd+'\n').encode()); s.settimeout(60); out=b''
    while not out.endswith(b'\n'): out+=s.recv(4096)
    return out.decode()
sim=subprocess.Popen(['' + REPO + '/.build/debug/esl-simulator','--port','29322','--control-port','29324','--no-stdin','--password','ClueCon'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
uas=subprocess.Popen(['sipp','-sf','' + REPO + '/Tests/SIP/uas.xml','-i','127.0.0.1','-p','29323','-nostdin'],cwd=D,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
sy=subprocess.Popen(['' + REPO + '/.build/debug/switchyard','-f',D+'/proxy.cfg'],stdout=open(D+'/proxy.log','w'),stderr=subprocess.STDOUT)
time.sleep(3)
def ev(): return mi('get_statistics',{"statistics":["script:ev"]})[1]['result'].get('script:ev',0)
def run(label, reloads):
    for f in glob.glob(D+'/uac_*'): os.remove(f)
    uac=subprocess.Popen(['sipp','-sf','' + REPO + '/Tests/SIP/uac.xml','-s','1000','-i','127.0.0.1','-p','29325','127.0.0.1:29320','-m','3000','-r','300','-rp','1000','-nostdin','-trace_rtt','-rtt_freq','1','-trace_stat','-stf',D+'/uac_stat.csv','-timeout','60s'],cwd=D,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    e0=ev(); t0=time.time()
    floods=[]
    def flood():
        for _ in range(10): floods.append(ctl('flood 2000'))
    th=threading.Thread(target=flood); th.start()
    rl=[]
    while uac.poll() is None:
        if reloads:
            dt,r=mi('reload_routes'); rl.append(dt); assert r.get('result')=='OK', r
        time.sleep(0.1)
    th.join()
    while ev()-e0 < 20000 and time.time()-t0 < 60: time.sleep(0.05)
    rtts=[]
    for f in glob.glob(D+'/uac_*_rtt.csv'):
        for row in csv.reader(open(f),delimiter=';'):
            try: rtts.append(float(row[1]))
            except: pass
    rtts.sort()
    st=list(csv.reader(open(D+'/uac_stat.csv'),delimiter=';'))
    h=st[0]; last=st[-1]
    succ=last[h.index('SuccessfulCall(C)')]; fail=last[h.index('FailedCall(C)')]
    p=lambda q: rtts[min(len(rtts)-1,int(len(rtts)*q))] if rtts else -1
    print(f"{label}: calls ok {succ} failed {fail}; call setup rtt ms p50 {p(.5):.2f} p99 {p(.99):.2f} max {rtts[-1] if rtts else -1:.2f}; events delivered {ev()-e0}/20000; reloads {len(rl)}" + (f", reload_routes MI round trip ms median {sorted(rl)[len(rl)//2]*1000:.1f} max {max(rl)*1000:.1f}" if rl else ""))
try:
    run('no reload', False)
    run('reload_routes every 100 ms', True)
finally:
    for p in (sy,sim): p.terminate()
    uas.terminate()
    for p in (sy, sim, uas): p.wait(timeout=10)
