//! The Kolmogorov–Smirnov distributions behind the two-sample test's p-value, as scipy evaluates
//! them: the two-sided one-sample distribution of D_n (scipy's `kstwo`, which `ks_2samp` uses
//! asymptotically with n = round(n1 n2 / (n1 + n2))), the one-sided Smirnov distribution of
//! D_n+ (`scipy.special.smirnov`), and the exact two-sample lattice-path probabilities
//! (`ks_2samp`'s exact method).
//!
//! `kstwo` follows the method selection of Simard and L'Ecuyer (2011) that scipy uses, with each
//! method written here from its published description:
//! - Ruben–Gambino closed forms for D <= 1/n and D >= 1 - 1/n;
//! - twice the Smirnov tail for D >= 1/2, for n <= 140 when n D^2 > 4, and for the survival
//!   function when n D^2 >= 2.2;
//! - Durbin's matrix (in the form of Marsaglia, Tsang and Wang, 2003) for small n D^2;
//! - Pomeranz's recursion (1974) for n <= 140 in between;
//! - the Pelz–Good (1976) asymptotic series otherwise.
//!
//! The Smirnov tail is the Birnbaum–Tingey sum, all of whose terms are positive; each term is
//! formed in logarithms, so it keeps its relative accuracy far into the tail.

use crate::special::{ln_factorial_over_power, PI_SQUARED};

/// 2^128 and 2^-128: rescaling steps that keep long products inside f64's range.
const TWO_128: f64 = 3.402_823_669_209_385e38;
const TWO_MINUS_128: f64 = 1.0 / TWO_128;

/// The survival function P(D_n >= x) of the two-sided one-sample Kolmogorov–Smirnov statistic
/// for a sample of `n` (scipy's `kstwo.sf(x, n)`).
pub fn kolmogorov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() {
        return f64::NAN;
    }
    if x >= 1.0 {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let nf = n as f64;
    let t = nf * x;
    if t <= 1.0 {
        if t <= 0.5 {
            return 1.0;
        }
        // P(D_n <= x) = n!/n^n (2t - 1)^n.
        let cdf = if n <= 140 {
            let mut product = 1.0;
            for i in 1..=n {
                product *= i as f64 * (1.0 / nf) * (2.0 * t - 1.0);
            }
            product
        } else {
            (ln_factorial_over_power(nf) + nf * (2.0 * t - 1.0).ln()).exp()
        };
        return clip(1.0 - cdf);
    }
    if t >= nf - 1.0 {
        return clip(2.0 * (1.0 - x).powf(nf));
    }
    if x >= 0.5 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let n_x_squared = t * x;
    if n <= 140 {
        if n_x_squared <= 0.754_693 {
            return clip(1.0 - durbin_cdf(n, x));
        }
        if n_x_squared <= 4.0 {
            return clip(1.0 - pomeranz_cdf(n, x));
        }
        return clip(2.0 * smirnov_sf(n, x));
    }
    if n_x_squared >= 370.0 {
        return 0.0;
    }
    if n_x_squared >= 2.2 {
        return clip(2.0 * smirnov_sf(n, x));
    }
    let cdf = if n_x_squared >= 18.0 {
        1.0
    } else if n <= 100_000 && nf * x.powf(1.5) <= 1.4 {
        durbin_cdf(n, x)
    } else {
        pelz_good_cdf(n, x)
    };
    clip(1.0 - cdf)
}

fn clip(p: f64) -> f64 {
    p.clamp(0.0, 1.0)
}

/// The survival function P(D_n+ >= x) of the one-sided statistic (scipy's `smirnov(n, x)`).
pub fn smirnov_sf(n: u64, x: f64) -> f64 {
    if n == 0 || x.is_nan() || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if n == 1 {
        return 1.0 - x;
    }
    if x == 0.0 {
        return 1.0;
    }
    if x == 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    // floor(n x) and its remainder, exactly: the product's rounding error is recovered by fma.
    let product = nf * x;
    let error = nf.mul_add(x, -product);
    let mut floor = product.floor();
    let mut alpha = (product - floor) + error;
    if alpha < 0.0 {
        floor -= 1.0;
        alpha += 1.0;
    }
    if alpha >= 1.0 {
        floor += 1.0;
        alpha -= 1.0;
    }
    if floor == 0.0 || (floor == 1.0 && alpha == 0.0) {
        // x <= 1/n: P(D_n+ < x) = x (1 + x)^(n-1).
        let cdf = x * ((nf - 1.0) * x.ln_1p()).exp();
        return 1.0 - cdf;
    }
    if -2.0 * nf * x * x < -708.396_418_532_264_1 {
        return 0.0;
    }
    if floor >= nf - 1.0 {
        return (nf * (-x).ln_1p()).exp();
    }
    if n > 1_000_000 {
        // scipy's approximation beyond a million: p ~ exp(-(6nx + 1)^2 / 18n).
        let log_p = -(6.0 * nf * x + 1.0).powi(2) / 18.0 / nf;
        return if log_p < -std::f64::consts::LN_2 {
            log_p.exp()
        } else {
            1.0 + log_p.exp_m1()
        };
    }
    // Birnbaum–Tingey: x * sum_{j=0}^{J} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1), over the j
    // with x + j/n < 1.
    let last = {
        let mut last = nf - floor - 1.0;
        if alpha == 0.0 {
            last -= 1.0;
        }
        last.max(0.0) as u64
    };
    // The first terms can underflow while later ones dominate: the sum is kept relative to the
    // largest term seen (a running log-sum-exp).
    // ln C(n, j) is summed with Neumaier's compensation: over hundreds of thousands of steps a
    // plain sum would drift by more than 1e-9.
    let mut ln_binomial = 0.0;
    let mut ln_binomial_error = 0.0;
    let mut log_scale = f64::NEG_INFINITY;
    let mut scaled_sum = 0.0;
    let mut previous = f64::INFINITY;
    for j in 0..=last {
        let jf = j as f64;
        if j > 0 {
            let addend = ((nf - jf + 1.0) / jf).ln();
            let total = ln_binomial + addend;
            ln_binomial_error += if ln_binomial.abs() >= addend.abs() {
                (ln_binomial - total) + addend
            } else {
                (addend - total) + ln_binomial
            };
            ln_binomial = total;
        }
        let step = x + jf / nf;
        let ln_term = (ln_binomial + ln_binomial_error)
            + (nf - jf) * (-step).ln_1p()
            + (jf - 1.0) * step.ln();
        if ln_term > log_scale {
            scaled_sum *= (log_scale - ln_term).exp();
            log_scale = ln_term;
        }
        scaled_sum += (ln_term - log_scale).exp();
        // Stop once the terms fall and the latest is below 1e-18 of the sum.
        if ln_term < previous && ln_term < log_scale + scaled_sum.ln() - 41.5 {
            break;
        }
        previous = ln_term;
    }
    (x.ln() + scaled_sum.ln() + log_scale).exp().clamp(0.0, 1.0)
}

/// P(D_n <= d) by Durbin's matrix: with n d = k - h (k an integer, 0 <= h < 1), the (k, k)
/// element of H^n times n!/n^n, where H is the (2k-1)-square matrix of Marsaglia, Tsang and
/// Wang. Powers are taken by squaring, rescaled by 2^128 as they grow.
fn durbin_cdf(n: u64, d: f64) -> f64 {
    let nf = n as f64;
    let nd = nf * d;
    if d >= 1.0 {
        return 1.0;
    }
    if nd <= 0.5 {
        return 0.0;
    }
    let k = nd.ceil() as usize;
    let h = k as f64 - nd;
    let m = 2 * k - 1;
    let matrix = durbin_matrix(m, h);

    let mut power = Matrix::identity(m);
    let mut power_exponent: i64 = 0;
    let mut base = matrix;
    let mut base_exponent: i64 = 0;
    let mut remaining = n;
    while remaining > 0 {
        if remaining % 2 == 1 {
            power = power.multiply(&base);
            power_exponent += base_exponent;
            power_exponent += power.rescale();
        }
        remaining /= 2;
        if remaining > 0 {
            base = base.multiply(&base);
            base_exponent *= 2;
            base_exponent += base.rescale();
        }
    }
    let mut p = power.get(k - 1, k - 1);
    let mut exponent = power_exponent;
    // Multiply by n!/n^n, one factor at a time.
    for i in 1..=n {
        p = i as f64 * p / nf;
        if p.abs() < TWO_MINUS_128 {
            p *= TWO_128;
            exponent -= 128;
        }
    }
    p * 2f64.powi(exponent as i32)
}

/// The matrix H of Durbin's method for m = 2k - 1 and fractional part h.
fn durbin_matrix(m: usize, h: f64) -> Matrix {
    // v[j] = (1 - h^(j+1)) / (j+1)!, w[j] = 1/j!; the last row is v reversed; the corner
    // (1 - 2h^m + max(0, 2h - 1)^m) / m!.
    let mut inverse_factorial = vec![1.0; m + 1];
    for j in 1..=m {
        inverse_factorial[j] = inverse_factorial[j - 1] / j as f64;
    }
    let mut v = vec![0.0; m];
    for (j, entry) in v.iter_mut().enumerate() {
        *entry = (1.0 - h.powi(j as i32 + 1)) * inverse_factorial[j + 1];
    }
    let corner = (2.0 * h - 1.0).max(0.0).powi(m as i32) - 2.0 * h.powi(m as i32);
    v[m - 1] = (1.0 + corner) * inverse_factorial[m];
    let mut matrix = Matrix::zeros(m);
    for column in 1..m {
        for row in (column - 1)..m {
            matrix.set(row, column, inverse_factorial[row + 1 - column]);
        }
    }
    for (row, value) in v.iter().enumerate() {
        matrix.set(row, 0, *value);
    }
    for column in 0..m {
        matrix.set(m - 1, column, v[m - 1 - column]);
    }
    matrix
}

/// A small dense square matrix for Durbin's method.
#[derive(Clone)]
struct Matrix {
    size: usize,
    cells: Vec<f64>,
}

impl Matrix {
    fn zeros(size: usize) -> Matrix {
        Matrix {
            size,
            cells: vec![0.0; size * size],
        }
    }

    fn identity(size: usize) -> Matrix {
        let mut matrix = Matrix::zeros(size);
        for i in 0..size {
            matrix.set(i, i, 1.0);
        }
        matrix
    }

    fn get(&self, row: usize, column: usize) -> f64 {
        self.cells[row * self.size + column]
    }

    fn set(&mut self, row: usize, column: usize, value: f64) {
        self.cells[row * self.size + column] = value;
    }

    fn multiply(&self, other: &Matrix) -> Matrix {
        let size = self.size;
        let mut out = Matrix::zeros(size);
        for row in 0..size {
            let target = &mut out.cells[row * size..(row + 1) * size];
            for inner in 0..size {
                let left = self.cells[row * size + inner];
                if left == 0.0 {
                    continue;
                }
                let source = &other.cells[inner * size..(inner + 1) * size];
                for (cell, right) in target.iter_mut().zip(source) {
                    *cell += left * right;
                }
            }
        }
        out
    }

    /// Divides by 2^128 while the largest entry exceeds 2^128; returns the exponent taken out.
    fn rescale(&mut self) -> i64 {
        let mut exponent = 0;
        loop {
            let largest = self.cells.iter().fold(0.0f64, |a, b| a.max(b.abs()));
            if largest <= TWO_128 {
                return exponent;
            }
            for cell in &mut self.cells {
                *cell *= TWO_MINUS_128;
            }
            exponent += 128;
        }
    }
}

/// P(D_n <= x) by Pomeranz's recursion: rows of 2n + 2 steps, each the convolution of the
/// previous row with (almost) Poisson weights of three kinds, only a window of each row being
/// non-zero; n! applied at the end.
fn pomeranz_cdf(n: u64, x: f64) -> f64 {
    let n = n as i64;
    let nf = n as f64;
    let t = nf * x;
    let whole = t.floor() as i64;
    let fraction = t - whole as f64;
    let g = fraction.min(1.0 - fraction);
    let ceil_f = i64::from(fraction > 0.0);
    let round_f = i64::from(fraction > 0.5);
    let powers = (2 * (whole + 1)) as usize;
    let weights = |scale: f64| {
        let mut out = vec![1.0; powers];
        for m in 1..powers {
            out[m] = out[m - 1] * scale / m as f64;
        }
        out
    };
    let g_power = weights(g / nf);
    let two_g_power = weights(2.0 * g / nf);
    let one_minus_two_g_power = weights((1.0 - 2.0 * g) / nf);

    let window = |i: i64| -> (i64, i64) {
        let (j1, j2) = if i == 0 {
            (-whole - ceil_f - 1, whole + ceil_f - 1)
        } else {
            let half = (i + 1) / 2;
            if (i + 1) % 2 == 0 {
                if half == n + 1 {
                    (n - whole - ceil_f - 1, n + whole + ceil_f - 1)
                } else {
                    (
                        half - 1 - whole - round_f - 1,
                        half + whole - 1 + ceil_f - 1,
                    )
                }
            } else {
                (half - 1 - whole - 1, half + whole + round_f - 1)
            }
        };
        ((j1 + 2).max(0), j2.min(n))
    };

    let mut previous = vec![0.0; powers];
    let mut current = vec![0.0; powers];
    current[0] = 1.0;
    let mut previous_start: i64 = 0;
    let mut current_start: i64 = 0;
    let mut exponent: i64 = 0;
    let (mut j1, mut _j2) = window(0);
    for i in 1..=(2 * n + 1) {
        let k1 = j1;
        std::mem::swap(&mut previous, &mut current);
        std::mem::swap(&mut previous_start, &mut current_start);
        current.iter_mut().for_each(|cell| *cell = 0.0);
        let (new_j1, j2) = window(i);
        j1 = new_j1;
        _j2 = j2;
        let weight = if i == 1 || i == 2 * n + 1 {
            &g_power
        } else if i % 2 == 1 {
            &two_g_power
        } else {
            &one_minus_two_g_power
        };
        let length = j2 - k1 + 1;
        if length > 0 {
            let from = (k1 - previous_start).max(0) as usize;
            let to = ((k1 - previous_start + length) as usize).min(previous.len());
            let source = &previous[from.min(to)..to];
            let weight = &weight[..(length as usize).min(weight.len())];
            let start = (j1 - k1).max(0) as usize;
            let count = (j2 - j1 + 1).max(0) as usize;
            for (offset, cell) in current.iter_mut().take(count).enumerate() {
                // The full convolution's element start + offset.
                let at = start + offset;
                let mut total = 0.0;
                for (a, value) in source.iter().enumerate() {
                    if a > at {
                        break;
                    }
                    if let Some(w) = weight.get(at - a) {
                        total += value * w;
                    }
                }
                *cell = total;
            }
            let largest = current.iter().fold(0.0f64, |a, b| a.max(*b));
            if largest > 0.0 && largest < TWO_MINUS_128 {
                current.iter_mut().for_each(|cell| *cell *= TWO_128);
                exponent -= 128;
            }
            current_start = previous_start + j1 - k1;
        }
    }
    let index = n - current_start;
    let mut answer = if index >= 0 {
        current.get(index as usize).copied().unwrap_or(0.0)
    } else {
        0.0
    };
    for m in 1..=n {
        if answer.abs() > TWO_128 {
            answer *= TWO_MINUS_128;
            exponent += 128;
        }
        answer *= m as f64;
    }
    answer * 2f64.powi(exponent as i32)
}

/// P(D_n <= x) by the Pelz–Good series: Li-Chien and Korolyuk's expansion
/// K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5 in z = x sqrt(n), each term transformed by the
/// theta-function identity into a series fast for small z.
fn pelz_good_cdf(n: u64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let nf = n as f64;
    let z = nf.sqrt() * x;
    let z2 = z * z;
    let z3 = z2 * z;
    let z4 = z2 * z2;
    let z6 = z4 * z2;
    let log_q = -PI_SQUARED / 8.0 / z2;
    if log_q < -708.0 {
        return 0.0;
    }
    let q = log_q.exp();
    let pi4 = PI_SQUARED * PI_SQUARED;
    let pi6 = pi4 * PI_SQUARED;

    let k1a = -z2;
    let k1b = PI_SQUARED / 4.0;
    let k2a = 6.0 * z6 + 2.0 * z4;
    let k2b = (2.0 * z4 - 5.0 * z2) * PI_SQUARED / 4.0;
    let k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
    let k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
    let k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
    let k3b = PI_SQUARED * (135.0 * z4 - 96.0 * z6) / 4.0;
    let k3a = -30.0 * z6 - 90.0 * z4 * z4;

    // Sums over odd m = 2k - 1 of c(m) q^(m^2), by Horner in q^8k from the largest k down.
    let terms = (16.0 * z / std::f64::consts::PI).ceil() as i64;
    let mut k = [0.0f64; 4];
    for kk in (1..=terms).rev() {
        let m = (2 * kk - 1) as f64;
        let m2 = m * m;
        let m4 = m2 * m2;
        let m6 = m4 * m2;
        let q_power = q.powf((8 * kk) as f64);
        let coefficients = [
            1.0,
            k1a + k1b * m2,
            k2a + k2b * m2 + k2c * m4,
            k3a + k3b * m2 + k3c * m4 + k3d * m6,
        ];
        for (sum, coefficient) in k.iter_mut().zip(coefficients) {
            *sum = *sum * q_power + coefficient;
        }
    }
    let sqrt_two_pi = (2.0 * std::f64::consts::PI).sqrt();
    let divisors = [z, 6.0 * z4, 72.0 * z4 * z3, 6480.0 * z4 * z6];
    for (sum, divisor) in k.iter_mut().zip(divisors) {
        *sum = *sum * q * sqrt_two_pi / divisor;
    }
    // The other sums, over all integers k: K2 gets (pi^2 k^2) q'^(k^2), K3 (3 pi^2 k^2 z^2 -
    // pi^4 k^4) q'^(k^2), with q' = exp(-pi^2 / 2z^2).
    let q_other = (-PI_SQUARED / 2.0 / z2).exp();
    let sqrt3_z = 3f64.sqrt() * z;
    let mut k2_extra = 0.0;
    let mut k3_extra = 0.0;
    for kk in (1..=terms).rev() {
        let kf = kk as f64;
        let k_squared = kf * kf;
        let k_pi = std::f64::consts::PI * kf;
        let power = q_other.powf(k_squared);
        k2_extra += k_squared * power;
        k3_extra += (sqrt3_z + k_pi) * (sqrt3_z - k_pi) * k_squared * power;
    }
    k[2] += k2_extra * PI_SQUARED * sqrt_two_pi / (-36.0 * z3);
    k[3] += k3_extra * PI_SQUARED * sqrt_two_pi / (216.0 * z6);
    let root_n = nf.sqrt();
    k[0] + k[1] / root_n + k[2] / nf + k[3] / (nf * root_n)
}

/// P(D >= d) for two samples of equal size n, where d = h / n: the paths of the lattice walk
/// from (0, 0) to (n, n) that reach a diagonal |x - y| = h, by the reflection principle
/// (alternating sums of binomials, each divided by C(2n, n) and nested so that nothing cancels).
pub(crate) fn two_sample_equal_sf(n: u64, h: u64) -> f64 {
    let n = n as i64;
    let h = h as i64;
    let mut p = 0.0;
    let mut k = n / h;
    while k >= 0 {
        let mut ratio = 1.0;
        for j in 0..h {
            ratio = (n - k * h - j) as f64 * ratio / (n + k * h + j + 1) as f64;
        }
        p = ratio * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// P(D >= d) for two samples of sizes m and n (g their greatest common divisor, d = h / lcm):
/// the share of lattice paths from (0, 0) to (m, n) that leave the band |x/m - y/n| < d, counted
/// directly as a share (Viehmann's form of the inside method, 2021) column by column over a
/// sliding window, so that no binomial coefficient is ever formed.
pub(crate) fn two_sample_unequal_sf(m: u64, n: u64, g: u64, h: u64) -> f64 {
    let (m, n) = if m < n { (n, m) } else { (m, n) };
    let (m, n, g, h) = (m as i64, n as i64, g as i64, h as i64);
    let mg = m / g;
    let ng = n / g;
    let mut min_j: i64 = 0;
    let mut max_j: i64 = ((h as f64 / mg as f64).ceil() as i64).min(n + 1);
    let mut current_length = max_j - min_j;
    // One column of the recursion, as a window of the share of paths that have left the band.
    let mut column = vec![1.0f64; (n + 2) as usize];
    for cell in column.iter_mut().take(max_j as usize) {
        *cell = 0.0;
    }
    for i in 1..=m {
        let last_min = min_j;
        let last_length = current_length;
        min_j = ((((ng * i - h) as f64) / mg as f64).floor() as i64 + 1).max(0);
        min_j = min_j.min(n);
        max_j = ((((ng * i + h) as f64) / mg as f64).ceil() as i64).min(n + 1);
        if max_j <= min_j {
            return 1.0;
        }
        let fi = i as f64;
        let mut value = if min_j == 0 { 0.0 } else { 1.0 };
        for jj in 0..(max_j - min_j) {
            let j = jj + min_j;
            let above = column
                .get((jj + min_j - last_min) as usize)
                .copied()
                .unwrap_or(1.0);
            value = (above * fi + value * j as f64) / (fi + j as f64);
            if let Some(cell) = column.get_mut(jj as usize) {
                *cell = value;
            }
        }
        current_length = max_j - min_j;
        if last_length > current_length {
            let from = (max_j - min_j) as usize;
            let to = (from + (last_length - current_length) as usize).min(column.len());
            for cell in &mut column[from.min(to)..to] {
                *cell = 1.0;
            }
        }
    }
    column
        .get((max_j - min_j - 1) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(found: f64, expected: f64, relative: f64) -> bool {
        (found - expected).abs() <= relative * expected.abs()
    }

    #[test]
    fn kolmogorov_sf_matches_scipy_kstwo_in_every_regime() {
        // scipy.stats.kstwo.sf(x, n), one case per method of the selection.
        let cases: &[(u64, f64, f64)] = &[
            (10, 0.08, 0.999_997_805_803_405_4),
            (10, 0.12, 0.994_856_683_976_261_6),
            (10, 0.95, 1.953_125_000_000_017_2e-13),
            (100, 0.1, 0.252_692_757_006_387_4),
            (100, 0.25, 5.408_871_776_434_847e-6),
            (100, 0.6, 5.912_822_156_396_238e-35),
            (1000, 0.02, 0.810_897_165_689_557_7),
            (1000, 0.01, 0.999_949_674_537_061_1),
            (1000, 0.06, 0.001_428_597_887_952_891),
            (500_000, 0.001, 0.698_980_144_366_366_1),
            (500_000, 0.003, 0.000_246_323_012_391_867_54),
            (2_000_000, 0.002, 2.247_704_493_692_889e-7),
            (150, 0.004, 1.0),
            (119, 0.05, 0.912_678_334_575_701_6),
            (119, 0.12, 0.059_667_905_327_717_95),
            (119, 0.3, 5.394_241_967_809_73e-10),
        ];
        for &(n, x, expected) in cases {
            let found = kolmogorov_sf(n, x);
            assert!(
                close(found, expected, 1e-10),
                "kstwo.sf({x}, {n}) = {found}, expected {expected}"
            );
        }
    }

    #[test]
    fn smirnov_sf_matches_scipy() {
        // scipy.special.smirnov(n, x).
        let cases: &[(u64, f64, f64)] = &[
            (100, 0.25, 2.704_435_888_217_423_7e-6),
            (500_000, 0.003, 0.000_123_161_506_195_933_77),
            (50, 0.01, 0.983_716_516_615_407_2),
            (1000, 0.9, 0.0),
        ];
        for &(n, x, expected) in cases {
            let found = smirnov_sf(n, x);
            assert!(
                close(found, expected, 1e-10) || (expected == 0.0 && found < 1e-300),
                "smirnov({n}, {x}) = {found}, expected {expected}"
            );
        }
    }
}
