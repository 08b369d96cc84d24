"""The study catalog as a static table: ``deepscope studies`` prints it without importing
torch or any study's code.

``tests/studies/test_index.py`` checks it against the registry; when a study is added or
its summary changes, that test prints the table to paste here.
"""

# ruff: noqa: E501  (a data table: one study per entry)
from __future__ import annotations

__all__ = ["STUDIES"]

#: ``(name, summary, paper)`` of every registered study, sorted by name.
STUDIES: tuple[tuple[str, str, str], ...] = (
    ('boolean-machines',
     'Boolean functions a threshold unit / one hidden layer realises, exactly; data sufficiency (Xiong 2016)',
     'C. Xiong 2016, arXiv 1602.00198; S. Muroga 1971 (threshold logic)'),
    ('conditioning',
     'Piecewise-linear curves: FC vs convolution vs convolution with conditioning; condition numbers against n (Shalev-Shwartz et al. 2017)',
     'Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950'),
    ('depth-efficiency',
     'Separation ranks of deep vs shallow ConvACs; CP terms a shallow net needs (Cohen, Sharir & Shashua 2016)',
     'Cohen, Sharir & Shashua 2016, arXiv 1509.05009; Cohen & Shashua 2017, arXiv 1605.06743'),
    ('depth-separation',
     "Telgarsky's sawtooth: exact 2^L pieces; deep-narrow vs shallow-wide nets trained at equal parameter budgets",
     'M. Telgarsky 2016, arXiv 1602.04485'),
    ('end-to-end-vs-decomposition',
     'k-tuples of line images: end-to-end fails, decomposition works; gradient SNR (Shalev-Shwartz et al. 2017, Sec. 3)',
     'Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950'),
    ('flat-activations',
     'Staircase activation: smoothing, end-to-end, multiclass vs forward-only (Shalev-Shwartz et al. 2017, Sec. 5)',
     'Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950'),
    ('generalization-measures',
     'A zoo of MLPs on digits: Kendall tau and granulated Psi of every measure against the generalization gap (Jiang et al. 2020)',
     'Jiang, Neyshabur, Mobahi, Krishnan & Bengio 2020, arXiv 1912.02178; Dziugaite et al. 2020, arXiv 2010.11924'),
    ('info-plane',
     'Information plane of a 12-10-7-5-4-3-2 net on the 12-bit task (Shwartz-Ziv & Tishby 2017; Saxe et al. 2018)',
     'Shwartz-Ziv & Tishby 2017, arXiv 1703.00810; Saxe et al. 2018, ICLR'),
    ('landscape',
     'Sharp vs flat minima of small/large-batch training (Keskar et al. 2017), loss surfaces (Li et al. 2018) and barriers before/after neuron alignment',
     'Keskar et al. 2017, arXiv 1609.04836; Li et al. 2018, arXiv 1712.09913; Entezari et al. 2022, arXiv 2110.06296'),
    ('layer-representations',
     'CKA, probes, intrinsic dimension and invariance per layer: true vs random labels vs untrained (Kornblith 2019, Ansuini 2019)',
     'Kornblith et al. 2019, arXiv 1905.00414; Ansuini et al. 2019, arXiv 1905.12784; Hewitt & Liang 2019, arXiv 1909.03368'),
    ('linear-regions',
     'Exact linear-region densities of ReLU nets near data, far away, at init (width x depth) and over training (Hanin & Rolnick 2019)',
     'B. Hanin & D. Rolnick 2019, arXiv 1901.09021 and arXiv 1906.00904'),
    ('matrix-factorization',
     'GD on X = UU^T from a small init finds the minimum-nuclear-norm solution (Gunasekar et al. 2017)',
     'Gunasekar, Woodworth, Bhojanapalli, Neyshabur & Srebro 2017, arXiv 1705.09280'),
    ('max-margin',
     'GD on separable data converges in direction to the max-margin SVM, logarithmically slowly (Soudry et al. 2018, Fig. 1)',
     'Soudry, Hoffer, Nacson, Gunasekar & Srebro 2018, JMLR, arXiv 1710.10345'),
    ('network-size',
     'Wider two-layer nets on digits: test error does not rise; which capacity measures follow it (Neyshabur et al. 2015, 2017)',
     'Neyshabur, Tomioka & Srebro 2015, arXiv 1412.6614; Neyshabur et al. 2017, arXiv 1706.08947'),
    ('parity',
     'Parities of d bits: SGD learns d <= 10, fails at d = 30; gradient variance across targets falls like 2^-d (Shalev-Shwartz et al. 2017)',
     'Shalev-Shwartz, Shamir & Shammah 2017, arXiv 1703.07950'),
    ('pooling-geometry',
     'Square vs mirror pooling on closedness and symmetry of blobs; separation-rank bounds of the trained ConvACs (Cohen & Shashua 2017)',
     'Cohen & Shashua, ICLR 2017, arXiv 1605.06743'),
    ('rbm-flow',
     'RBM reconstruction flow of Ising configurations toward T_c (Iso, Shiba & Yokoo 2018)',
     'Iso, Shiba & Yokoo 2018, arXiv 1801.07172'),
    ('rbm-rg',
     'Stacked RBMs on critical Ising data vs block-spin RG: measured locality (Mehta & Schwab 2014)',
     'Mehta & Schwab 2014, arXiv 1410.3831'),
    ('weight-spectra',
     'ESD, power-law alpha and MP fits of every layer of digits MLPs/CNNs over training, batch size, random labels and a zoo (Martin & Mahoney 2021)',
     'Martin & Mahoney 2021, JMLR, arXiv 1810.01075; Martin, Peng & Mahoney 2021, Nature Communications, arXiv 2002.06716'),
)
