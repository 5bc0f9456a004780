#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /zpsplat.ko
mark() { echo "zpfarm: $1" > /dev/kmsg; }
scenario=$(sed -n 's/.*zpscenario=\([a-z,]*\).*/\1/p' /proc/cmdline)
case "$scenario" in
clean)
	mark "begin memory"; sleep 1; mark "end memory" ;;
warn)
	mark "begin memory"; echo warn > /proc/zpsplat; mark "end memory"
	mark "begin coherence"; sh -c 'echo null > /proc/zpsplat'; mark "end coherence"
	mark "begin truncate"; sh -c 'echo bug > /proc/zpsplat'; mark "end truncate" ;;
softlockup)
	echo 2 > /proc/sys/kernel/watchdog_thresh
	mark "begin fork"; echo softlockup > /proc/zpsplat; mark "end fork" ;;
rcustall)
	mark "begin mremap"; echo rcustall > /proc/zpsplat; mark "end mremap" ;;
hung)
	echo 2 > /proc/sys/kernel/hung_task_timeout_secs
	mark "begin uffd"; echo hung > /proc/zpsplat; mark "end uffd" ;;
mm)
	mark "begin memory"; sh -c 'echo rss > /proc/zpsplat'; mark "end memory"
	mark "begin coherence"; sh -c 'echo badpte > /proc/zpsplat'; mark "end coherence" ;;
panic)
	mark "begin coherence"; echo c > /proc/sysrq-trigger; mark "end coherence" ;;
esac
sleep 1
poweroff -f
