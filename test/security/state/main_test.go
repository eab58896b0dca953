package security_state

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// gatehouseBin is the gatehouse binary built for this package's
// process-level tests.
var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }
