// SPDX-License-Identifier: GPL-2.0
/* zpsplat: provoke real kernel reports to capture console logs for zpfarm's console scanner tests. */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/delay.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/rcupdate.h>
#include <linux/pgtable.h>

static noinline void zp_bad_pte(void)
{
#ifdef CONFIG_X86
	struct mm_struct *mm = current->mm;
	unsigned long addr;
	pgd_t *pgd; p4d_t *p4d; pud_t *pud; pmd_t *pmd; pte_t *pte;
	char one = 1;

	addr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0);
	if (IS_ERR_VALUE(addr) || copy_to_user((void __user *)addr, &one, 1))
		return;
	mmap_read_lock(mm);
	pgd = pgd_offset(mm, addr);
	p4d = p4d_offset(pgd, addr);
	pud = pud_offset(p4d, addr);
	pmd = pmd_offset(pud, addr);
	pte = pte_offset_kernel(pmd, addr);
	native_set_pte(pte, pfn_pte(0x7ffff, PAGE_SHARED));
	mmap_read_unlock(mm);
	/* the pte is zapped when the process exits */
#endif
}

static ssize_t zp_write(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char cmd[32] = {};
	int *volatile nullp = NULL;

	if (copy_from_user(cmd, ubuf, min(len, sizeof(cmd) - 1)))
		return -EFAULT;
	strim(cmd);
	if (!strcmp(cmd, "warn")) {
		WARN(1, "zpsplat: provoked warning\n");
	} else if (!strcmp(cmd, "null")) {
		pr_info("zpsplat: read %d\n", *nullp);
	} else if (!strcmp(cmd, "bug")) {
		BUG();
	} else if (!strcmp(cmd, "softlockup")) {
		preempt_disable();
		mdelay(8000);
		preempt_enable();
	} else if (!strcmp(cmd, "rcustall")) {
		rcu_read_lock();
		preempt_disable();
		mdelay(30000);
		preempt_enable();
		rcu_read_unlock();
	} else if (!strcmp(cmd, "hung")) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule_timeout(6 * HZ);
	} else if (!strcmp(cmd, "rss")) {
		atomic_long_add(1, &current->mm->rss_stat.count[MM_ANONPAGES]);
	} else if (!strcmp(cmd, "badpte")) {
		zp_bad_pte();
	} else {
		return -EINVAL;
	}
	return len;
}

static const struct proc_ops zp_ops = { .proc_write = zp_write };

static int __init zp_init(void)
{
	return proc_create("zpsplat", 0200, NULL, &zp_ops) ? 0 : -ENOMEM;
}

static void __exit zp_exit(void)
{
	remove_proc_entry("zpsplat", NULL);
}

module_init(zp_init);
module_exit(zp_exit);
MODULE_LICENSE("GPL");
