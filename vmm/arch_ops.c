/* The architecture's hooks as the ops table vm.c calls, the same on every architecture. */
#include "arch.h"
#include "vm.h"

const struct vm_machine_ops arch_machine_ops = {
	.mem_layout = arch_mem_layout,
	.init = arch_vm_init,
	.destroy = arch_vm_destroy,
	.check_boot = arch_check_boot,
	.announce_device = arch_announce_device,
	.irq_line_id = arch_irq_line_id,
};
